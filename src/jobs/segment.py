"""The segmentation job, top to bottom: options -> data -> sweep -> finalise -> MLflow -> report
-> registry -> summary.

``run_segmentation(cfg)`` is ``python -m src.run +experiment=...``. Heavy libraries are imported
when the job runs, so ``--help`` and config errors answer at once.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.config.runtime import original_cwd, output_dir, runtime_choices, task_overrides
from src.config.schema import Config
from src.errors import SegmentationError
from src.jobs import console
from src.result import SegmentationResult

REPORT_NAME = "segmentation_report.html"


@dataclass(frozen=True)
class SweepRun:
    """What a finished sweep left behind, besides its result."""

    result: SegmentationResult
    parent_run_id: str
    model_uri: str
    registration: object  # src.tracking.registry.Registration, or None when not registered
    report_paths: tuple[Path, ...]
    study: object  # the optuna.Study


def load_options(cfg: DictConfig) -> Config:
    """The composed config as typed, validated options (bad values fail here, before any work)."""
    return OmegaConf.to_object(cfg)


def report_paths(options: Config) -> tuple[Path, ...]:
    """Where the HTML report goes, checked before the sweep starts."""
    paths = [] if (out := output_dir()) is None else [out / REPORT_NAME]
    if options.report.path:
        paths.append(original_cwd() / options.report.path)
    for path in paths:
        if path.is_dir():
            raise SegmentationError(
                f"report.path={path} is a folder; give a file name such as "
                f"report.path={path / REPORT_NAME}."
            )
        if path.exists():
            console.say(f"  note: the report will replace the existing file {path}")
    return tuple(paths)


def run_segmentation(cfg: DictConfig) -> SweepRun:
    """Run one tracked sweep and return what it found and where it is recorded."""
    from src.data.prepare import prepare_data
    from src.model.evaluation import EvaluationSpace
    from src.sweep.space import sweep_space
    from src.viz.background import Background

    options = load_options(cfg)
    reports = report_paths(options)
    started = time.perf_counter()
    # Started first so the drawing process has imported matplotlib by the first trial.
    background = Background()
    try:
        console.say(f"[{options.experiment_name}] loading dataset '{options.dataset.name}' ...")
        data = prepare_data(
            options.dataset,
            options.cleaning,
            options.features,
            options.snapshot_date,
            original_cwd(),
        )
        console.data_summary(options, data)
        space = sweep_space(cfg, runtime_choices(), task_overrides())
        X_eval = EvaluationSpace().fit_transform(data.features)
        tracker, study = open_sweep(options, data, space)
        with resume_hint_on_interrupt():
            run = tracked_sweep(
                cfg, options, data, space, X_eval, tracker, study, background, reports
            )
    finally:
        for failure in background.close():
            console.say(f"  warning: could not write artifact {failure}")
    console.say(f"\nDone in {time.perf_counter() - started:.1f} s.")
    console.summary(
        run.result,
        parent_run_id=run.parent_run_id,
        experiment=options.mlflow.experiment,
        registration=run.registration,
        model_uri=run.model_uri,
        report_paths=reports,
        ui_hint=tracker.run_url_hint(),
    )
    return run


@contextmanager
def resume_hint_on_interrupt():
    """Ctrl-C: say how to continue the sweep, and exit 130 without a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        kept = [o for o in task_overrides() if not o.startswith("sweep.resume")]
        console.say(
            "\nInterrupted. Finished trials are kept in MLflow and Optuna; continue with "
            f"`{' '.join(['python -m src.run', *kept, 'sweep.resume=true'])}`."
        )
        sys.exit(130)


def open_sweep(options: Config, data, space):
    """The tracking store and the Optuna study (new, or the one ``sweep.resume`` continues)."""
    from src.sweep import study as sw
    from src.tracking.tracker import (
        Tracker,
        default_optuna_storage,
        mask_credentials,
        resolve_tracking_uri,
    )

    tracker = Tracker(resolve_tracking_uri(options.mlflow.tracking_uri), options.mlflow.experiment)
    storage = options.sweep.storage or default_optuna_storage(tracker.tracking_uri)
    study = sw.open_study(
        storage,
        options.experiment_name,
        data.fingerprint,
        options.sweep.objective.value,
        lambda seed: sw.make_sampler(options.sweep.sampler.value, space, seed),
        options.sweep.seed,
        options.sweep.resume,
    )
    study.set_user_attr("storage", mask_credentials(storage))
    return tracker, study


def tracked_sweep(cfg, options: Config, data, space, X_eval, tracker, study, background, reports):
    """Trials, finalise, logging, report and registration, under the sweep's parent run."""
    from src.data.contract import DataContract
    from src.jobs.finalise import finalise
    from src.tracking import artifacts
    from src.tracking.trials import TrialLogger

    contract = DataContract(
        options.dataset, options.cleaning, options.features, options.snapshot_date, data.fingerprint
    ).to_dict()
    with tracker.parent_run(
        f"{options.experiment_name}-sweep",
        run_tags(options, data, study),
        study.user_attrs.get("mlflow_parent_run_id"),
    ) as parent:
        study.set_user_attr("mlflow_parent_run_id", parent)
        artifacts.log_sweep_start(
            tracker,
            OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
            OmegaConf.to_yaml(cfg, resolve=True),
            data.features,
            options.dataset.name,
            data.dataset.source,
            data.cleaning,
        )
        logger = TrialLogger(
            tracker, background, data.features, space, options.sweep.log_trial_artifacts
        )
        run_trials(options, study, space, data, X_eval, [logger])
        result = finalise(options, data, study, space, X_eval, background, contract)
        console.best(result.choice, result.chosen_trial, result.objective, result.value)
        logger.mark_chosen(result.chosen_trial - 1)
        model_uri, registration = publish(options, data, tracker, result, parent, reports)
    return SweepRun(result, parent, model_uri, registration, reports, study)


def run_tags(options: Config, data, study) -> dict[str, str]:
    from src.tracking.tracker import git_commit

    return {
        "experiment": options.experiment_name,
        "dataset": options.dataset.name,
        "data_fingerprint": data.fingerprint,
        "feature_set": options.features.name.value,
        "git_commit": git_commit(),
        "optuna_study": study.study_name,
        "optuna_storage": study.user_attrs.get("storage", ""),
    }


def publish(options: Config, data, tracker, result: SegmentationResult, parent: str, reports):
    """Log the result, write the report, log and register the model."""
    from src.report.context import ReportContext
    from src.report.page import render_report
    from src.sweep.study import DIRECTIONS
    from src.tracking import artifacts, registry, serving

    artifacts.log_sweep_result(tracker, result)
    html = render_report(ReportContext.from_result(result, run_id=parent))
    artifacts.log_report(tracker, html)
    for path in reports:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    model_uri = serving.log_model(result.model)
    if not options.mlflow.register:
        return model_uri, None
    registration = registry.register(
        tracker,
        model_uri,
        options.mlflow.registered_model,
        result,
        DIRECTIONS[result.objective] == "maximize",
    )
    tracker.set_tags(
        {
            "registered_model": registration.name,
            "model_version": registration.version,
            "model_alias": registration.alias,
        }
    )
    return model_uri, registration


def run_trials(options: Config, study, space, data, X_eval, hooks) -> None:
    """Sample until ``sweep.n_trials`` distinct configurations are fitted, then refine k."""
    from src.sweep import study as sw
    from src.sweep.objective import Objective

    sweep = options.sweep
    budget = sw.Budget(sweep.n_trials, space.size(), sweep.timeout, sweep.n_jobs)
    done = sw.fitted_configurations(study)
    progress = console.Progress(sweep.objective.value, budget.target(), done)
    objective = Objective(
        data.features,
        X_eval,
        space,
        sweep.objective.value,
        sweep.min_cluster_share,
        sweep.silhouette_sample_size,
        sweep.seed,
        hooks=[*hooks, progress],
    )
    console.say(
        f"[{options.experiment_name}] sweeping {max(budget.target() - done, 0)} configuration(s) "
        f"of {budget.target()} (objective: {sweep.objective.value}, {sweep.sampler.value} sampler, "
        f"k {space.k_low}..{space.k_high})"
    )
    sw.sample(study, objective, budget)
    if sweep.refine_k and (queued := sw.queue_k_refinement(study, space)):
        progress.refining(queued)
        console.say(
            f"[{options.experiment_name}] refining k for the best configuration: {queued} trial(s)"
        )
        sw.run_queued(study, objective, sweep.n_jobs)

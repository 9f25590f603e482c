"""The segmentation job, top to bottom: options -> stores -> data -> sweep -> finalise -> MLflow
-> report -> registry -> summary.

``run_segmentation(cfg)`` is ``python -m src.run +experiment=...``. Heavy libraries are imported
when the job runs, so ``--help`` and config errors answer at once.

One sweep may have several processes: the first creates the study and the parent run, more
join it (``sweep.role=worker``, or ``sweep.n_jobs`` local processes this one starts), each logs
its trials as child runs of the same parent, and the one process that claims the finalisation
(``src.sweep.storage.try_claim``) refines k, refits, reports and registers once the study has
its trials (``src.sweep.shared`` has the phases).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from src.config.runtime import original_cwd, output_dir, runtime_choices, task_overrides
from src.config.schema import Config, Role, SweepConfig
from src.errors import SegmentationError
from src.jobs import console
from src.result import SegmentationResult

REPORT_NAME = "segmentation_report.html"
PARENT_ATTR = "mlflow_parent_run_id"


@dataclass(frozen=True)
class SweepRun:
    """What a sweep process left behind. ``result`` is None in a process that did not finalise
    (a worker whose sweep another process finalises)."""

    result: SegmentationResult | None
    parent_run_id: str
    model_uri: str | None
    registration: object  # src.tracking.registry.Registration, or None when not registered
    report_paths: tuple[Path, ...]
    study: object  # the optuna.Study
    finalised_here: bool = True


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
    """Run one tracked sweep (or this process's part of a shared one) and return what it found
    and where it is recorded."""
    from src.data.prepare import prepare_data
    from src.errors import handle_interrupts, sigint_ignored
    from src.jobs.finalise import INSIGHT_COLUMNS
    from src.jobs.stages import Stages
    from src.model.evaluation import EvaluationSpace
    from src.model.validation import feature_rules, validate_features
    from src.sweep.space import sweep_space
    from src.tracking.tracker import open_stores
    from src.viz.background import Background

    options = load_options(cfg)
    reports = report_paths(options)
    space = sweep_space(cfg, runtime_choices(), task_overrides())  # unknown options fail here
    stores = open_stores(options.mlflow.tracking_uri, options.sweep.storage, original_cwd())
    started = time.perf_counter()
    stages = Stages()
    with handle_interrupts(), resume_hint_on_interrupt(options.sweep):
        # Started first so the drawing process has imported matplotlib by the first trial; it
        # ignores Ctrl-C (this process stops it), so a Ctrl-C prints no traceback of its own.
        with sigint_ignored():
            background = Background()
        workers = None
        if options.sweep.n_jobs > 1 and options.sweep.role is Role.leader:
            workers = LocalWorkers(options.sweep.n_jobs - 1)  # they import while data loads
        try:
            console.say(f"[{options.experiment_name}] loading dataset '{options.dataset.name}' ...")
            with stages("load, clean, features"):
                data = prepare_data(
                    options.dataset,
                    options.cleaning,
                    options.features,
                    options.snapshot_date,
                    original_cwd(),
                    columns=INSIGHT_COLUMNS,
                )
            console.data_summary(options, data)
            # The rules the model will apply when it scores, applied before any trial runs.
            validate_features(
                data.features, feature_rules(list(data.features.columns)), action="segmented"
            )
            check_sweep_fits_data(options.sweep, data.features, space)
            X_eval = EvaluationSpace().fit_transform(data.features)
            run = tracked_sweep(
                cfg, options, data, space, X_eval, stores, background, reports, workers, stages
            )
        except BaseException:
            if workers is not None:
                workers.stop(interrupt=True)
            raise
        finally:
            if workers is not None:
                workers.stop()
            for failure in background.close():
                console.say(f"  warning: could not write artifact {failure}")
    console.say(f"\nDone in {time.perf_counter() - started:.1f} s.")
    if run.result is None:
        console.say(
            f"[{options.experiment_name}] this process's trials are logged under parent run "
            f"{run.parent_run_id}; another process of the sweep finalises it."
        )
        return run
    console.summary(
        run.result,
        parent_run_id=run.parent_run_id,
        experiment=options.mlflow.experiment,
        registration=run.registration,
        model_uri=run.model_uri,
        report_paths=reports,
        ui_hint=_ui_hint(stores.tracking_uri),
    )
    return run


def _ui_hint(uri: str) -> str:
    if uri.startswith(("http://", "https://")):
        return f"open {uri}"
    return f"mlflow ui --backend-store-uri {uri}"


@contextmanager
def resume_hint_on_interrupt(sweep: SweepConfig):
    """Ctrl-C: say how to continue the sweep, and exit 130 without a traceback."""
    from src.errors import EXIT_INTERRUPTED

    try:
        yield
    except KeyboardInterrupt:
        kept = [o for o in task_overrides() if not o.startswith("sweep.resume")]
        if sweep.role is Role.worker:
            how = f"rejoin with `{' '.join(['python -m src.run', *kept])}`"
        else:
            how = f"continue with `{' '.join(['python -m src.run', *kept, 'sweep.resume=true'])}`"
        console.say(f"\nInterrupted. Finished trials are kept in MLflow and Optuna; {how}.")
        sys.exit(EXIT_INTERRUPTED)


def check_sweep_fits_data(sweep: SweepConfig, features, space) -> None:
    """Say up front what no trial could get past: more segments than customers, features that
    are all constant, an invalid model parameter, segments that cannot reach their minimum
    share."""
    n = len(features)
    if sweep.k.high >= n:
        raise SegmentationError(
            f"sweep.k.high={sweep.k.high} but the data has {n} customers: every segment needs "
            f"customers of its own and scoring needs fewer segments than customers. Lower "
            f"sweep.k.high to at most {n - 1} (and sweep.k.low with it), or use more data."
        )
    constant = [c for c in features.columns if features[c].nunique(dropna=False) <= 1]
    if len(constant) == features.shape[1]:
        raise SegmentationError(
            f"Every feature is constant ({', '.join(constant)} take one value each for all {n} "
            "customers): there is nothing to segment. Check the dataset, the cleaning report and "
            "the snapshot date."
        )
    for column in constant:
        console.say(
            f"  warning: feature {column} is constant ({features[column].iloc[0]!r} for every "
            "customer): it cannot separate segments"
        )
    space.check_parameters()
    if sweep.min_cluster_share > 0 and sweep.k.low * sweep.min_cluster_share > 1:
        raise SegmentationError(
            f"sweep.k.low={sweep.k.low} segments cannot each hold sweep.min_cluster_share="
            f"{sweep.min_cluster_share:g} of the customers. Lower sweep.k.low below "
            f"{int(1 / sweep.min_cluster_share) + 1} or lower sweep.min_cluster_share."
        )


# --- one sweep, several processes --------------------------------------------------------------


@dataclass
class Sweep:
    """The stores, study and parent run this process works with."""

    tracker: Any  # src.tracking.tracker.Tracker
    study: Any  # optuna.Study
    storage_url: str
    owner: bool  # created (or resumed) the study: answers for the parent run when stopping
    stale: Any  # src.sweep.shared.StaleTrials
    workers: LocalWorkers | None = None  # the local worker processes (sweep.n_jobs)

    def stop_workers(self, interrupt: bool = False) -> None:
        if self.workers is not None:
            self.workers.stop(interrupt)


def open_sweep(options: Config, data, space, stores, *, announce: bool = True) -> Sweep:
    """The study (new, joined or resumed) and the tracker on its parent run."""
    from src.sweep import shared
    from src.sweep import study as sw
    from src.sweep.storage import Heartbeat, local_file, open_storage
    from src.tracking.tracker import Tracker, mask_credentials

    sweep = options.sweep
    stale = shared.StaleTrials(sweep.max_retry, legacy_running=sweep.resume)
    heartbeat = None
    if local_file(stores.storage) is None:
        heartbeat = Heartbeat(sweep.heartbeat_interval, sweep.grace_period, sweep.max_retry)
    storage = open_storage(stores.storage, heartbeat, stale)
    opened = sw.join_or_create(
        storage,
        options.experiment_name,
        data.fingerprint,
        sweep.objective.value,
        lambda seed: sw.make_sampler(sweep.sampler.value, space, seed),
        sweep.seed,
        sweep.resume,
        worker=sweep.role is Role.worker,
        study_name=sweep.study_name,
        space=sw.space_key(space),
        join_timeout=sweep.join_timeout,
        poll=sweep.poll_interval,
    )
    study = opened.study
    parent = study.user_attrs.get(PARENT_ATTR)
    if opened.resumed and parent is not None:
        Tracker.for_run(stores.tracking_uri, parent).client.update_run(parent, "RUNNING")
    if opened.owner and parent is None:
        study.set_user_attr("storage", mask_credentials(stores.storage))
        tracker = Tracker(stores.tracking_uri, options.mlflow.experiment)
        parent = tracker.create_parent(
            f"{options.experiment_name}-sweep", run_tags(options, data, study)
        )
        study.set_user_attr(PARENT_ATTR, parent)
    else:
        if parent is None:  # joined the moment its creator made it: wait for the parent run
            parent = _wait_for_parent(study, sweep)
        tracker = Tracker.for_run(stores.tracking_uri, parent)
    if announce:
        how = "resumes" if opened.resumed else ("creates" if opened.owner else "joins")
        console.say(
            f"[{options.experiment_name}] this process {how} sweep {study.study_name}: Optuna "
            f"study in {stores.describe()}, parent run {parent}"
        )
    return Sweep(tracker, study, stores.storage, opened.owner, stale)


def _wait_for_parent(study, sweep: SweepConfig) -> str:
    from src.sweep.storage import wait_for

    parent = wait_for(
        lambda: study.user_attrs.get(PARENT_ATTR), sweep.join_timeout, sweep.poll_interval
    )
    if not parent:
        raise SegmentationError(
            f"The sweep {study.study_name} has no parent run after {sweep.join_timeout:g} s: its "
            "first process may have died while starting. Start a new sweep."
        )
    return parent


def tracked_sweep(
    cfg,
    options: Config,
    data,
    space,
    X_eval,
    stores,
    background,
    reports,
    workers=None,
    stages=None,
):
    """This process's trials; then, in the one process that claims it, the k refinement,
    finalise, logging, report and registration under the sweep's parent run."""
    from src.errors import deferred
    from src.jobs.stages import Stages
    from src.sweep import shared
    from src.sweep.sample import fit_sample
    from src.sweep.storage import release_marker
    from src.tracking import artifacts
    from src.tracking.trials import TrialLogger

    stages = stages or Stages()
    sweep = open_sweep(options, data, space, stores)
    sweep.workers = workers
    study, tracker = sweep.study, sweep.tracker
    if sweep.owner:
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
        tracker,
        background,
        fit_sample(data.features, options.sweep.fit_sample_size, options.sweep.seed),
        space,
        options.sweep.log_trial_artifacts,
        study.study_name,
    )
    sweep.stale.listeners.append(logger.killed)
    if options.sweep.resume:
        release_marker(sweep.storage_url, study.study_name)
    claimed = None
    try:
        with deferred():  # Ctrl-C stops at a fit or a wait, never inside a store write
            with stages("sweep"):
                objective = sample_trials(options, sweep, space, data.features, X_eval, [logger])
            claimed = claim_finalisation(options, sweep, objective)
            if claimed is None:
                sweep.stop_workers()
                return SweepRun(
                    None, tracker.parent_id, None, None, reports, study, finalised_here=False
                )
            with claimed:
                finished = finish_sweep(
                    cfg,
                    options,
                    data,
                    space,
                    X_eval,
                    sweep,
                    objective,
                    logger,
                    background,
                    reports,
                    stages,
                )
                study.set_user_attr(shared.PHASE, shared.FINALISED)
            return finished
    except BaseException as exc:
        sweep.stop_workers(interrupt=True)
        if sweep.owner or claimed is not None:
            tracker.end_parent("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    finally:
        if claimed is not None:
            from src.sweep.storage import remove_claim_file

            if shared.phase(study) == shared.FINALISED:
                remove_claim_file(sweep.storage_url, study.study_name)


def make_objective(sweep_options: SweepConfig, features, X_eval, space, hooks, reap=None):
    """Trials fit and are scored on the sweep's sample (``sweep.fit_sample_size``, see
    ``src.sweep.sample``); the chosen configuration is refitted on every customer."""
    from src.sweep.objective import Objective
    from src.sweep.sample import sweep_sample

    features, X_eval = sweep_sample(
        features, X_eval, sweep_options.fit_sample_size, sweep_options.seed
    )
    return Objective(
        features,
        X_eval,
        space,
        sweep_options.objective.value,
        sweep_options.min_cluster_share,
        sweep_options.silhouette_sample_size,
        sweep_options.seed,
        hooks=hooks,
        reap=reap,
        poll_seconds=min(sweep_options.poll_interval, 0.5),
    )


def sample_trials(options: Config, sweep: Sweep, space, features, X_eval, hooks):
    """Start the local workers, sample this process's share of ``sweep.n_trials`` and wait
    until no trial runs anywhere; returns the objective (the refinement runs it too)."""
    from src.sweep import study as sw
    from src.sweep.sample import sweep_sample

    settings = options.sweep
    study = sweep.study
    budget = sw.Budget(settings.n_trials, space.size(), settings.timeout)
    done = sw.fitted_configurations(study)
    progress = console.Progress(settings.objective.value, budget.target(), done)
    n_customers = len(features)
    features, X_eval = sweep_sample(features, X_eval, settings.fit_sample_size, settings.seed)
    objective = make_objective(
        settings, features, X_eval, space, [*hooks, progress], sweep.stale.reap
    )
    sweep.stale.reap(study)  # trials a dead process left running (a resume, a restart)
    if len(features) < n_customers:
        console.say(
            f"  trials fit and are scored on a seeded sample of {len(features):,} of "
            f"{n_customers:,} customers (sweep.fit_sample_size); the chosen configuration is "
            "refitted and scored on all of them"
        )
    console.say(
        f"[{options.experiment_name}] sweeping {max(budget.target() - done, 0)} configuration(s) "
        f"of {budget.target()} (objective: {settings.objective.value}, {settings.sampler.value} "
        f"sampler, k {space.k_low}..{space.k_high}"
        + (f", {settings.n_jobs} processes" if settings.n_jobs > 1 else "")
        + ")"
    )
    if sweep.workers is not None:
        sweep.workers.send(options, sweep, space, features, X_eval)
    sw.sample(study, objective, budget, sweep.stale.reap, settings.poll_interval)
    return objective


def claim_finalisation(options: Config, sweep: Sweep, objective):
    """The finalise claim, for this process or None (then it helps with the queued trials until
    the finaliser needs no more help). A claim left free by a dead finaliser is taken over."""
    from src.sweep import shared
    from src.sweep import study as sw
    from src.sweep.storage import try_claim

    study = sweep.study
    claim = try_claim(sweep.storage_url, study.study_name)
    if claim is not None:
        return claim
    console.say(
        f"[{options.experiment_name}] sampling done; another process finalises sweep "
        f"{study.study_name} (this one runs queued trials until the finalising starts)"
    )
    return shared.help_out(
        study,
        lambda: sw.run_queued(study, objective),
        sweep.stale.reap,
        options.sweep.poll_interval,
        claim=lambda: try_claim(sweep.storage_url, study.study_name),
    )


def finish_sweep(
    cfg, options, data, space, X_eval, sweep: Sweep, objective, logger, background, reports, stages
):
    """The finaliser's part: the k refinement with every process that helps, then finalise,
    log, report and register under the reopened parent run."""
    from src.data.contract import DataContract
    from src.errors import interruptible
    from src.jobs.finalise import finalise
    from src.sweep import shared
    from src.sweep import study as sw
    from src.tracking.tracker import mask_values
    from src.value.job import with_value

    study, tracker, settings = sweep.study, sweep.tracker, options.sweep
    if settings.refine_k and (queued := sw.queue_k_refinement(study, space)):
        for hook in objective.hooks:
            if isinstance(hook, console.Progress):
                hook.refining(queued)
        console.say(
            f"[{options.experiment_name}] refining k for the best configuration: {queued} trial(s)"
        )
    study.set_user_attr(shared.PHASE, shared.REFINING)
    with stages("k refinement"):
        sw.refine(study, objective, sweep.stale.reap, settings.poll_interval)
    sweep.stop_workers()
    fail_when_every_trial_failed(study)
    study.set_user_attr(shared.PHASE, shared.FINALISING)
    contract = mask_values(
        DataContract(
            options.dataset,
            options.cleaning,
            options.features,
            options.snapshot_date,
            data.fingerprint,
        ).to_dict()
    )
    with tracker.parent_run(
        f"{options.experiment_name}-sweep", run_tags(options, data, study), tracker.parent_id
    ) as parent:
        expected = finalise_estimate(options, study, len(data.features))
        with interruptible(), stages("finalise", expected):
            result = finalise(options, data, study, space, X_eval, background, contract)
        if options.value.enabled:
            with interruptible(), stages("customer value"):
                result = with_value(options, data, result)
        console.best(result.choice, result.chosen_trial, result.objective, result.value)
        logger.mark_chosen(result.chosen_trial - 1)
        with stages("logging, report, registry"):
            model_uri, registration = publish(options, data, tracker, result, parent, reports)
        tracker.log_metrics(stages.metrics())
    return SweepRun(result, parent, model_uri, registration, reports, study)


def finalise_estimate(options: Config, study, n_customers: int) -> float | None:
    """Seconds the finalise step should take, from the trials' own fit times: the refit on all
    customers, the bootstrap refits for stability and the figures' share, roughly."""
    from src.sweep.objective import METRICS

    fits = [
        t.user_attrs[METRICS]["fit_seconds"]
        for t in study.get_trials(deepcopy=False)
        if "fit_seconds" in t.user_attrs.get(METRICS, {})
    ]
    if not fits:
        return None
    fit = sum(fits) / len(fits)
    sampled = min(n_customers, options.sweep.fit_sample_size or n_customers)
    return fit * (n_customers / sampled + 2 * options.sweep.stability_bootstraps + 2)


def fail_when_every_trial_failed(study) -> None:
    """No trial produced a result because every one raised: show the error itself (one setting
    of the search space cannot help when, say, a model parameter is invalid)."""
    from optuna.trial import TrialState

    from src.sweep.objective import FAILED, REASON, STATE

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.COMPLETE for t in trials):
        return
    states = {t.user_attrs.get(STATE) for t in trials if t.user_attrs.get(STATE)}
    if states != {FAILED}:
        return
    reasons = sorted({t.user_attrs.get(REASON, "unknown error") for t in trials if t.params})
    if len(reasons) == 1:
        raise SegmentationError(
            f"Every trial failed with the same error: {reasons[0]}. Fix that first (each trial's "
            "child run holds the full traceback); no setting of sweep.k or "
            "sweep.min_cluster_share can help."
        )
    raise SegmentationError(
        f"Every trial failed, with {len(reasons)} different errors, e.g. {reasons[0]} and "
        f"{reasons[1]}. Each trial's child run holds the full traceback."
    )


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
    """One process, no tracking: sample until ``sweep.n_trials`` distinct configurations are
    fitted, then refine k (for notebooks and tests; the job runs the phases in
    ``tracked_sweep``)."""
    from src.sweep import study as sw

    settings = options.sweep
    budget = sw.Budget(settings.n_trials, space.size(), settings.timeout)
    progress = console.Progress(
        settings.objective.value, budget.target(), sw.fitted_configurations(study)
    )
    objective = make_objective(settings, data.features, X_eval, space, [*hooks, progress])
    sw.sample(study, objective, budget, poll=settings.poll_interval)
    if settings.refine_k and (queued := sw.queue_k_refinement(study, space)):
        progress.refining(queued)
    sw.refine(study, objective, poll=settings.poll_interval)


# --- local worker processes (sweep.n_jobs) -----------------------------------------------------


@dataclass(frozen=True)
class LocalWorker:
    """What a local worker process needs: no config composing, no data loading."""

    index: int
    launcher_pid: int
    sweep: SweepConfig
    threads: int
    space: Any
    features: Any
    X_eval: Any
    storage_url: str
    study_name: str
    tracking_uri: str
    parent_run_id: str


class LocalWorkers:
    """``sweep.n_jobs - 1`` more processes on this machine working the same study (this one is
    the n-th). They are started before the data loads, so their imports overlap it, and get
    their work (:class:`LocalWorker`) once the study and its parent run exist; they run trials
    and the k refinement, this process finalises."""

    def __init__(self, count: int):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.processes, self.pipes = [], []
        for index in range(1, count + 1):
            mine, theirs = ctx.Pipe()
            process = ctx.Process(
                target=local_worker, args=(theirs,), name=f"sweep-worker-{index}", daemon=False
            )
            process.start()
            theirs.close()
            self.processes.append(process)
            self.pipes.append(mine)
        self.sent = False

    def send(self, options: Config, sweep: Sweep, space, features, X_eval) -> None:
        for index, pipe in enumerate(self.pipes, start=1):
            pipe.send(
                LocalWorker(
                    index=index,
                    launcher_pid=os.getpid(),
                    sweep=options.sweep,
                    threads=options.threads,
                    space=space,
                    features=features,
                    X_eval=X_eval,
                    storage_url=sweep.storage_url,
                    study_name=sweep.study.study_name,
                    tracking_uri=sweep.tracker.tracking_uri,
                    parent_run_id=sweep.tracker.parent_id,
                )
            )
        self.sent = True

    def stop(self, interrupt: bool = False, timeout: float = 60.0) -> None:
        """Wait for the workers (they end once nothing is queued); with ``interrupt`` (this
        process is stopping) they get a Ctrl-C first; any still running at ``timeout`` are
        killed."""
        import signal

        for pipe in self.pipes:
            with suppress(OSError):
                if not self.sent:
                    pipe.send(None)  # no work after all
                pipe.close()
        self.pipes = []
        if interrupt:
            for process in self.processes:
                if process.is_alive():
                    os.kill(process.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join()
            if self.sent and process.exitcode not in (0, 130, -signal.SIGINT):
                console.say(
                    f"  warning: local worker {process.name} exited with code "
                    f"{process.exitcode}; its running trial, if any, was failed and retried"
                )
        self.processes = []


def local_worker(pipe) -> None:
    """Entry point of a local worker process: import while the launcher loads the data, get
    the work, run trials until the sweep needs no more, exit 0 (2 with a one-line error, 130
    on Ctrl-C)."""
    from src.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, handle_interrupts

    background = None
    try:
        with handle_interrupts():
            import mlflow  # noqa: F401
            import optuna
            import sklearn.cluster  # noqa: F401  (loads the BLAS/OpenMP runtimes to limit)
            from threadpoolctl import threadpool_limits

            from src.errors import deferred
            from src.sweep import shared
            from src.sweep import study as sw
            from src.sweep.storage import Heartbeat, local_file, open_storage
            from src.tracking.tracker import Tracker
            from src.tracking.trials import TrialLogger
            from src.viz.background import Background

            try:
                payload: LocalWorker | None = pipe.recv()
            except EOFError:
                payload = None
            if payload is None:
                return
            settings = payload.sweep
            optuna.logging.set_verbosity(optuna.logging.ERROR)
            with threadpool_limits(payload.threads):
                stale = shared.StaleTrials(settings.max_retry)
                heartbeat = None
                if local_file(payload.storage_url) is None:
                    heartbeat = Heartbeat(
                        settings.heartbeat_interval, settings.grace_period, settings.max_retry
                    )
                storage = open_storage(payload.storage_url, heartbeat, stale)
                study = optuna.load_study(
                    study_name=payload.study_name,
                    storage=storage,
                    sampler=sw.make_sampler(
                        settings.sampler.value, payload.space, settings.seed + 7919 * payload.index
                    ),
                )
                tracker = Tracker.for_run(payload.tracking_uri, payload.parent_run_id)
                # Drawn on the writer thread: a drawing process per worker would oversubscribe
                # the cores the workers are using.
                background = Background(draw_in_process=False)
                logger = TrialLogger(
                    tracker,
                    background,
                    payload.features,
                    payload.space,
                    settings.log_trial_artifacts,
                    payload.study_name,
                )
                stale.listeners.append(logger.killed)
                budget = sw.Budget(settings.n_trials, payload.space.size(), settings.timeout)
                progress = console.Progress(settings.objective.value, budget.target())
                objective = make_objective(
                    settings,
                    payload.features,
                    payload.X_eval,
                    payload.space,
                    [logger, progress],
                    stale.reap,
                )
                with deferred():
                    sw.sample(study, objective, budget, stale.reap, settings.poll_interval)
                    shared.help_out(
                        study,
                        lambda: sw.run_queued(study, objective),
                        stale.reap,
                        settings.poll_interval,
                        launcher_alive=lambda: shared.pid_alive(payload.launcher_pid),
                    )
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except SegmentationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    finally:
        if background is not None:
            background.close()

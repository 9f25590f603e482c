"""The Optuna sweep: one trial = one Pipeline fitted on all customers, scored in a fixed space.

Fair objective: silhouette in each trial's own scaled space is not comparable across scalers,
and outlier removal flatters it. Every trial is therefore scored on the labels it gives ALL
customers, in one evaluation space (log1p + standardised features, fitted once), and
solutions whose smallest segment holds less than `min_cluster_share` are rejected.
"""

from __future__ import annotations

import contextlib
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from src.clusterers import cluster_centres, distances_to_centres
from src.errors import SegmentationError
from src.evaluation import DegenerateClustering, evaluate_labels, passes_min_share
from src.pipeline import SWEPT_GROUPS, build_pipeline

# Objective name -> Optuna direction.
DIRECTIONS = {
    "silhouette": "maximize",
    "davies_bouldin": "minimize",
    "calinski_harabasz": "maximize",
}
REJECTED = "rejected"
METRICS = "metrics"  # trial user attribute holding the metrics dict


@dataclass
class SweepSpace:
    """Choices per swept group, the resolved config of each choice, and the k range."""

    choices: dict[str, list[str]]
    options: dict[str, dict[str, Any]]
    k_low: int
    k_high: int

    def grid(self) -> dict[str, list]:
        g: dict[str, list] = {grp: list(self.choices[grp]) for grp in SWEPT_GROUPS}
        g["k"] = list(range(self.k_low, self.k_high + 1))
        return g

    def size(self) -> int:
        return int(np.prod([len(v) for v in self.grid().values()]))


@dataclass
class TrialOutcome:
    metrics: dict[str, float]
    labels: np.ndarray
    pipeline: Any
    shares: list[float] = field(default_factory=list)


def own_space_inertia(pipeline, X: pd.DataFrame, labels: np.ndarray) -> float:
    """Within-cluster sum of squares in the pipeline's own scaled space, over all customers."""
    Xs = np.asarray(pipeline[:-1].transform(X), dtype="float64")
    return float(np.square(distances_to_centres(Xs, labels, cluster_centres(Xs, labels))).sum())


def score_labels(
    pipeline, features: pd.DataFrame, X_eval: np.ndarray, labels, sample_size: int, seed: int
) -> tuple[dict[str, float], list[float]]:
    """Metrics of one labelling (fixed evaluation space plus own-space inertia) and its shares."""
    metrics = evaluate_labels(X_eval, labels, sample_size=sample_size, random_state=seed)
    shares = list(metrics.pop("cluster_shares"))
    metrics["inertia"] = own_space_inertia(pipeline, features, labels)
    return metrics, shares


def run_trial(
    features: pd.DataFrame,
    X_eval: np.ndarray,
    choice: Mapping[str, Any],
    space: SweepSpace,
    sample_size: int,
    seed: int,
) -> TrialOutcome:
    """Fit one configuration on all customers and score the labels it gives every customer."""
    pipe = build_pipeline(
        space.options["outliers"][choice["outliers"]],
        space.options["scaler"][choice["scaler"]],
        space.options["model"][choice["model"]],
        choice["k"],
    )
    t0 = time.perf_counter()
    pipe.fit(features)
    fit_seconds = time.perf_counter() - t0
    labels = np.asarray(pipe.predict(features))
    metrics, shares = score_labels(pipe, features, X_eval, labels, sample_size, seed)
    metrics["fit_seconds"] = fit_seconds
    return TrialOutcome(metrics=metrics, labels=labels, pipeline=pipe, shares=shares)


def make_sampler(name: str, space: SweepSpace, seed: int) -> optuna.samplers.BaseSampler:
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def open_study(
    storage: str,
    experiment: str,
    fingerprint: str,
    objective: str,
    sampler: optuna.samplers.BaseSampler,
    resume: bool,
) -> optuna.Study:
    """A new study per sweep, or with `resume` the latest one of this experiment and data."""
    direction = DIRECTIONS[objective]
    if resume:
        summaries = [
            s
            for s in optuna.get_all_study_summaries(storage)
            if s.user_attrs.get("experiment") == experiment
            and s.user_attrs.get("data_fingerprint") == fingerprint
            and s.user_attrs.get("objective") == objective
        ]
        if not summaries:
            raise SegmentationError(
                f"sweep.resume=true but {storage} holds no earlier sweep of experiment "
                f"'{experiment}' on this data with objective '{objective}'. Run without "
                "sweep.resume to start a new sweep."
            )
        latest = max(summaries, key=lambda s: s.datetime_start or datetime.min)
        study = optuna.load_study(study_name=latest.study_name, storage=storage, sampler=sampler)
        _fail_stale(study)
        return study
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    study = optuna.create_study(
        study_name=f"{experiment}-{stamp}",
        storage=storage,
        direction=direction,
        sampler=sampler,
    )
    study.set_user_attr("experiment", experiment)
    study.set_user_attr("data_fingerprint", fingerprint)
    study.set_user_attr("objective", objective)
    return study


def _fail_stale(study: optuna.Study) -> None:
    """Trials left running by an interrupted process can never finish: mark them failed."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        with contextlib.suppress(RuntimeError, ValueError):
            study.tell(t.number, state=TrialState.FAIL)


def finished_trials(study: optuna.Study) -> int:
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return len(study.get_trials(deepcopy=False, states=done))


TrialHook = Callable[[int, Mapping[str, Any], str, dict[str, float], str | None, Any], None]


def make_objective(
    features: pd.DataFrame,
    X_eval: np.ndarray,
    space: SweepSpace,
    objective: str,
    min_cluster_share: float,
    sample_size: int,
    seed: int,
    on_start: Callable[[int, Mapping[str, Any]], Any] | None = None,
    on_end: Callable[..., None] | None = None,
) -> Callable[[optuna.Trial], float]:
    """The Optuna objective; `on_start`/`on_end` let the caller track each trial elsewhere."""

    def objective_fn(trial: optuna.Trial) -> float:
        choice = {grp: trial.suggest_categorical(grp, space.choices[grp]) for grp in SWEPT_GROUPS}
        choice["k"] = trial.suggest_int("k", space.k_low, space.k_high)
        handle = on_start(trial.number, choice) if on_start else None
        earlier = _same_params(trial)
        if earlier is not None:
            return _repeat(trial, earlier, handle, objective, on_end)
        try:
            outcome = run_trial(features, X_eval, choice, space, sample_size, seed)
        except DegenerateClustering as exc:
            trial.set_user_attr("state", REJECTED)
            trial.set_user_attr("reason", str(exc))
            if on_end:
                on_end(handle, {}, REJECTED, str(exc), None, None)
            raise optuna.TrialPruned(str(exc)) from exc
        except BaseException as exc:
            # The child run keeps the whole traceback; the progress line shows its last line.
            note = "".join(traceback.format_exception(exc)).strip()[-5000:]
            trial.set_user_attr("state", "failed")
            if on_end:
                on_end(handle, {}, "failed", note, None, None)
            raise
        metrics = outcome.metrics
        # One attribute per kind: each set_user_attr is a storage write.
        trial.set_user_attr(METRICS, {name: float(value) for name, value in metrics.items()})
        trial.set_user_attr("cluster_shares", [round(s, 5) for s in outcome.shares])
        if not passes_min_share(metrics, min_cluster_share):
            reason = (
                f"smallest segment holds {metrics['min_cluster_share']:.2%} of customers "
                f"(< sweep.min_cluster_share={min_cluster_share:.2%})"
            )
            trial.set_user_attr("state", REJECTED)
            trial.set_user_attr("reason", reason)
            if on_end:
                on_end(handle, metrics, REJECTED, reason, outcome, choice)
            raise optuna.TrialPruned(reason)
        trial.set_user_attr("state", "complete")
        if on_end:
            on_end(handle, metrics, "complete", None, outcome, choice)
        return float(metrics[objective])

    return objective_fn


def _same_params(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """An earlier finished trial with identical choices (TPE proposes repeats on small spaces)."""
    for t in trial.study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)
    ):
        if t.number != trial.number and t.params == trial.params and "state" in t.user_attrs:
            return t
    return None


def _repeat(trial, earlier, handle, objective: str, on_end) -> float:
    """Record a repeated configuration with the earlier result instead of refitting it.

    Fits are seeded, so a refit would give the same labels and metrics.
    """
    state = earlier.user_attrs["state"]
    trial.set_user_attr("repeat_of", earlier.number)
    trial.set_user_attr("state", state)
    metrics = dict(earlier.user_attrs.get(METRICS, {}))
    note = f"same configuration as trial {earlier.number + 1}; result reused"
    if on_end:
        on_end(handle, metrics, state, note, None, None)
    if state != "complete":
        raise optuna.TrialPruned(earlier.user_attrs.get("reason", note))
    return float(metrics[objective])


def enqueue_k_refinement(study: optuna.Study, space: SweepSpace) -> int:
    """Queue every untried k for the best outliers/scaler/model; returns how many.

    The sampler picks the preprocessing and model; k is then settled by scanning its whole range
    for that configuration (the elbow and silhouette-vs-k curves need those fits anyway), so a
    sweep cannot miss the best k of its best configuration by chance.
    """
    try:
        best = study.best_trial
    except ValueError:
        return 0
    choice = {g: best.params[g] for g in SWEPT_GROUPS}
    tried = known_k_metrics(study, {**choice, "k": best.params["k"]})
    missing = [k for k in range(space.k_low, space.k_high + 1) if k not in tried]
    for k in missing:
        study.enqueue_trial({**choice, "k": k}, skip_if_exists=True)
    return len(missing)


def trial_metrics(t: optuna.trial.FrozenTrial, trials: list) -> dict[str, float]:
    """A trial's metrics; a repeated configuration points at the trial that measured them.

    `trials` is the study's trial list (index = trial number).
    """
    if METRICS in t.user_attrs:
        return dict(t.user_attrs[METRICS])
    if "repeat_of" in t.user_attrs:
        return dict(trials[t.user_attrs["repeat_of"]].user_attrs.get(METRICS, {}))
    return {}


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: choices, state and metrics, best first."""
    rows = []
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        # Trials are numbered from 1 wherever people read them (Optuna counts from 0).
        row = {"trial": t.number + 1, **t.params, "state": t.user_attrs.get("state", t.state.name)}
        row.update(trial_metrics(t, trials))
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    objective = study.user_attrs.get("objective", "silhouette")
    ascending = DIRECTIONS.get(objective) == "minimize"
    df["_ok"] = df["state"] == "complete"
    if objective in df:
        df = df.sort_values(["_ok", objective], ascending=[False, ascending], na_position="last")
    return df.drop(columns="_ok").reset_index(drop=True)


def best_choice(study: optuna.Study) -> dict[str, Any]:
    try:
        best = study.best_trial
    except ValueError:
        raise SegmentationError(
            "No trial produced an acceptable segmentation: every trial failed or had a segment "
            "smaller than sweep.min_cluster_share. Lower sweep.min_cluster_share, widen sweep.k, "
            "or add outlier strategies to sweep.search_space.outliers."
        ) from None
    return {**best.params, "trial": best.number, "value": best.value}


def k_curve(
    features: pd.DataFrame,
    X_eval: np.ndarray,
    choice: Mapping[str, Any],
    space: SweepSpace,
    sample_size: int,
    seed: int,
    known: Mapping[int, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """Inertia and silhouette against k for the chosen configuration (elbow and silhouette plots).

    Values a trial already measured for the same configuration are reused, not refitted.
    """
    rows = []
    known = known or {}
    for k in range(space.k_low, space.k_high + 1):
        if k in known:
            m = known[k]
        else:
            try:
                m = run_trial(
                    features, X_eval, {**choice, "k": k}, space, sample_size, seed
                ).metrics
            except DegenerateClustering:
                continue
        rows.append(
            {
                "k": k,
                "inertia": m["inertia"],
                "silhouette": m["silhouette"],
                "davies_bouldin": m["davies_bouldin"],
                "calinski_harabasz": m["calinski_harabasz"],
                "min_cluster_share": m["min_cluster_share"],
            }
        )
    return pd.DataFrame(rows)


def known_k_metrics(study: optuna.Study, choice: Mapping[str, Any]) -> dict[int, dict[str, float]]:
    """Metrics of earlier trials that used the same outliers/scaler/model, keyed by k."""
    out: dict[int, dict[str, float]] = {}
    for t in study.get_trials(deepcopy=False):
        if METRICS not in t.user_attrs:
            continue
        if all(t.params.get(g) == choice[g] for g in SWEPT_GROUPS):
            out[int(t.params["k"])] = dict(t.user_attrs[METRICS])
    return out

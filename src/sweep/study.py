"""The study: samplers, opening or resuming a sweep, the trials table, the best choice, the
k refinement and the curves over k of the chosen configuration."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from src.errors import SegmentationError
from src.model.evaluation import DegenerateClustering
from src.model.pipeline import SWEPT_GROUPS
from src.sweep.objective import METRICS, run_trial
from src.sweep.space import SweepSpace

# Objective name -> Optuna direction.
DIRECTIONS = {
    "silhouette": "maximize",
    "davies_bouldin": "minimize",
    "calinski_harabasz": "maximize",
}


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

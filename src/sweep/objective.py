"""One trial: fit a configuration on all customers, score it in the evaluation space, reject it
when its smallest segment is too small, and reuse the result of a configuration already tried.

Fair objective: silhouette in each trial's own scaled space is not comparable across scalers,
and outlier removal flatters it. Every trial is therefore scored on the labels it gives ALL
customers, in one evaluation space (log1p + standardised features, fitted once), and
solutions whose smallest segment holds less than `min_cluster_share` are rejected.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from src.model.evaluation import DegenerateClustering, passes_min_share, score_labels
from src.model.pipeline import SWEPT_GROUPS
from src.sweep.space import SweepSpace

REJECTED = "rejected"
METRICS = "metrics"  # trial user attribute holding the metrics dict


@dataclass
class TrialOutcome:
    metrics: dict[str, float]
    labels: np.ndarray
    pipeline: Any
    shares: list[float] = field(default_factory=list)


def run_trial(
    features: pd.DataFrame,
    X_eval: np.ndarray,
    choice: Mapping[str, Any],
    space: SweepSpace,
    sample_size: int,
    seed: int,
) -> TrialOutcome:
    """Fit one configuration on all customers and score the labels it gives every customer."""
    pipe = space.pipeline(choice)
    t0 = time.perf_counter()
    pipe.fit(features)
    fit_seconds = time.perf_counter() - t0
    labels = np.asarray(pipe.predict(features))
    metrics, shares = score_labels(pipe, features, X_eval, labels, sample_size, seed)
    metrics["fit_seconds"] = fit_seconds
    return TrialOutcome(metrics=metrics, labels=labels, pipeline=pipe, shares=shares)


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

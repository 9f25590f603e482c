"""One trial: fit a configuration on all customers, score it in the evaluation space, reject it
when its smallest segment is too small, and reuse the result of a configuration already tried.

Fair objective: silhouette in each trial's own scaled space is not comparable across scalers,
and outlier removal flatters it. Every trial is therefore scored on the labels it gives ALL
customers, in one evaluation space (log1p + standardised features, fitted once), and
solutions whose smallest segment holds less than `min_cluster_share` are rejected.

What happens to a trial is told to :class:`TrialHooks` (the console prints a progress line, the
tracking package writes a child run); this module knows neither.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from src.model.evaluation import DegenerateClustering, passes_min_share, score_labels
from src.result import SWEPT_GROUPS, Choice
from src.sweep.space import SweepSpace

COMPLETE = "complete"
REJECTED = "rejected"
FAILED = "failed"
INTERRUPTED = "interrupted"  # Ctrl-C during the fit: not a result; a resumed sweep may refit it
# Trial user attributes (one write per kind: each set_user_attr is a storage round trip).
STATE = "state"
METRICS = "metrics"
SHARES = "cluster_shares"
REASON = "reason"
REPEAT_OF = "repeat_of"
KIND = "kind"
K_REFINEMENT = "k_refinement"


@dataclass
class TrialOutcome:
    metrics: dict[str, float]
    labels: np.ndarray
    pipeline: Any
    shares: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class TrialRecord:
    """What one trial did, as the hooks see it once it has finished.

    ``state`` is complete, rejected or failed; ``repeat_of`` (numbered from 0, like ``number``)
    is set when the sampler proposed a configuration already tried, whose result was reused
    without refitting. ``outcome`` (labels and fitted pipeline) is there when a fit happened.
    """

    number: int
    choice: Choice
    state: str
    metrics: dict[str, float]
    shares: list[float]
    note: str | None = None
    repeat_of: int | None = None
    refinement: bool = False
    outcome: TrialOutcome | None = None


class TrialHooks:
    """Told when a trial starts and when it has finished; subclasses override what they need."""

    def started(self, number: int, choice: Choice) -> None:
        """Called on the trial's thread before fitting."""

    def finished(self, record: TrialRecord) -> None:
        """Called on the trial's thread once the trial's state is known."""


class _Hooks(TrialHooks):
    def __init__(self, hooks: Sequence[TrialHooks]):
        self.hooks = list(hooks)

    def started(self, number: int, choice: Choice) -> None:
        for hook in self.hooks:
            hook.started(number, choice)

    def finished(self, record: TrialRecord) -> None:
        for hook in self.hooks:
            hook.finished(record)


def run_trial(
    features: pd.DataFrame,
    X_eval: np.ndarray,
    choice: Choice,
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


@dataclass
class Objective:
    """The Optuna objective: one trial per call, reported to ``hooks``."""

    features: pd.DataFrame
    X_eval: np.ndarray
    space: SweepSpace
    objective: str
    min_cluster_share: float
    sample_size: int
    seed: int
    hooks: Sequence[TrialHooks] = ()

    def __post_init__(self) -> None:
        self._hooks = _Hooks(self.hooks)

    def __call__(self, trial: optuna.Trial) -> float:
        choice = Choice.of(
            {
                **{g: trial.suggest_categorical(g, self.space.choices[g]) for g in SWEPT_GROUPS},
                "k": trial.suggest_int("k", self.space.k_low, self.space.k_high),
            }
        )
        refinement = trial.user_attrs.get(KIND) == K_REFINEMENT
        self._hooks.started(trial.number, choice)
        earlier = _same_params(trial)
        if earlier is not None:
            return self._repeat(trial, choice, earlier, refinement)
        try:
            outcome = run_trial(
                self.features, self.X_eval, choice, self.space, self.sample_size, self.seed
            )
        except DegenerateClustering as exc:
            trial.set_user_attr(STATE, REJECTED)
            trial.set_user_attr(REASON, str(exc))
            self._tell(trial, choice, REJECTED, {}, [], str(exc), refinement=refinement)
            raise optuna.TrialPruned(str(exc)) from exc
        except KeyboardInterrupt:
            trial.set_user_attr(STATE, INTERRUPTED)
            self._tell(trial, choice, FAILED, {}, [], "interrupted (Ctrl-C)", refinement=refinement)
            raise
        except Exception as exc:
            # The child run keeps the whole traceback; the progress line shows its last line.
            note = "".join(traceback.format_exception(exc)).strip()[-5000:]
            trial.set_user_attr(STATE, FAILED)
            self._tell(trial, choice, FAILED, {}, [], note, refinement=refinement)
            raise
        metrics = {name: float(value) for name, value in outcome.metrics.items()}
        trial.set_user_attr(METRICS, metrics)
        trial.set_user_attr(SHARES, [round(s, 5) for s in outcome.shares])
        if not passes_min_share(metrics, self.min_cluster_share):
            reason = (
                f"smallest segment holds {metrics['min_cluster_share']:.2%} of customers "
                f"(< sweep.min_cluster_share={self.min_cluster_share:.2%})"
            )
            trial.set_user_attr(STATE, REJECTED)
            trial.set_user_attr(REASON, reason)
            self._tell(
                trial, choice, REJECTED, metrics, outcome.shares, reason, outcome, refinement
            )
            raise optuna.TrialPruned(reason)
        trial.set_user_attr(STATE, COMPLETE)
        self._tell(trial, choice, COMPLETE, metrics, outcome.shares, None, outcome, refinement)
        return metrics[self.objective]

    def _tell(self, trial, choice, state, metrics, shares, note, outcome=None, refinement=False):
        self._hooks.finished(
            TrialRecord(
                number=trial.number,
                choice=choice,
                state=state,
                metrics=metrics,
                shares=list(shares),
                note=note,
                refinement=refinement,
                outcome=outcome,
            )
        )

    def _repeat(self, trial, choice: Choice, earlier, refinement: bool) -> float:
        """Record a repeated configuration with the earlier result instead of refitting it.

        Fits are seeded, so a refit would give the same labels and metrics. The repeat is not
        counted towards ``sweep.n_trials`` (see ``study.fitted_configurations``).
        """
        state = earlier.user_attrs[STATE]
        trial.set_user_attr(REPEAT_OF, earlier.number)
        trial.set_user_attr(STATE, state)
        metrics = dict(earlier.user_attrs.get(METRICS, {}))
        note = f"same configuration as trial {earlier.number + 1}; not refitted"
        self._hooks.finished(
            TrialRecord(
                number=trial.number,
                choice=choice,
                state=state,
                metrics=metrics,
                shares=list(earlier.user_attrs.get(SHARES, [])),
                note=note,
                repeat_of=earlier.number,
                refinement=refinement,
            )
        )
        if state != COMPLETE:
            raise optuna.TrialPruned(earlier.user_attrs.get(REASON, note))
        return float(metrics[self.objective])


def _same_params(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """An earlier finished trial with identical choices (TPE proposes repeats on small spaces)."""
    for t in trial.study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)
    ):
        if (
            t.number != trial.number
            and t.params == trial.params
            and t.user_attrs.get(STATE) not in (None, INTERRUPTED)
            and REPEAT_OF not in t.user_attrs
        ):
            return t
    return None

"""One trial: fit a configuration (on all customers, or the sweep's fit sample), score it in the evaluation space, reject it
when its smallest segment is too small, and reuse the result of a configuration already tried.

Fair objective: silhouette in each trial's own scaled space is not comparable across scalers,
and outlier removal flatters it. Every trial is therefore scored on the labels it gives ALL
customers, in one evaluation space (log1p + standardised features, fitted once), and
solutions whose smallest segment holds less than `min_cluster_share` are rejected.

What happens to a trial is told to :class:`TrialHooks` (the console prints a progress line, the
tracking package writes a child run); this module knows neither. The hooks hear of a finished
trial before Optuna does, so a trial reported finished is already in both stores.

Several processes may share the study (``src.sweep.shared``): each trial records which process
runs it, a trial beyond the study's budget of distinct configurations is pruned before it
proposes anything (a *surplus* trial), and a configuration another process is fitting right now
is waited for instead of fitted twice.
"""

from __future__ import annotations

import functools
import os
import socket
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from src.errors import interruptible
from src.model.evaluation import DegenerateClustering, passes_min_share, score_labels
from src.result import SWEPT_GROUPS, Choice
from src.sweep.space import SweepSpace

COMPLETE = "complete"
REJECTED = "rejected"
FAILED = "failed"
INTERRUPTED = "interrupted"  # Ctrl-C during the fit: not a result; a resumed sweep may refit it
SURPLUS = "surplus"  # started when the study already had its configurations: nothing was run
# Trial user attributes (one write per kind: each set_user_attr is a storage round trip).
STATE = "state"
METRICS = "metrics"
SHARES = "cluster_shares"
REASON = "reason"
REPEAT_OF = "repeat_of"
KIND = "kind"
K_REFINEMENT = "k_refinement"
WORKER = "worker"  # "<host>:<pid>" of the process running the trial
_NOT_RESULTS = (None, INTERRUPTED, SURPLUS)


def worker_id() -> str:
    """This process, as trials record it: ``<host>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_result(t: optuna.trial.FrozenTrial) -> bool:
    """A finished trial that measured something (or reused a measurement)."""
    return t.user_attrs.get(STATE) not in _NOT_RESULTS


def is_sampled(t: optuna.trial.FrozenTrial) -> bool:
    """A configuration the sampler proposed (not one the k refinement queued)."""
    return t.user_attrs.get(KIND) != K_REFINEMENT


def counts_as_configuration(t: optuna.trial.FrozenTrial) -> bool:
    """A sampled configuration fitted once: repeats, surplus, interrupted trials and the k
    refinement do not count towards ``sweep.n_trials``."""
    return (
        t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        and is_sampled(t)
        and REPEAT_OF not in t.user_attrs
        and is_result(t)
    )


# How long a trial failed for its process died holds its place for the retry the reaper queues
# next (Optuna fails the trial, then its stale-trial callback adds the retry: two storage calls).
RETRY_GRACE_SECONDS = 15.0


def retries_on_the_way(trials: Iterable[optuna.trial.FrozenTrial]) -> int:
    """Sampled trials whose process died mid-fit and whose retry is not in the study yet.

    They keep their place in the budget: without it another process could sample a new
    configuration in between, and the retry, queued a moment later, would find the budget
    spent and be pruned as surplus. The place is held for ``RETRY_GRACE_SECONDS`` after the
    failure (no retry comes once ``sweep.max_retry`` is used up, or when the reaper died).
    """
    trials = list(trials)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    return sum(
        t.state == TrialState.FAIL
        and STATE not in t.user_attrs  # died before it recorded anything
        and is_sampled(t)
        and t.number not in retried
        and _seconds_since(t.datetime_complete) < RETRY_GRACE_SECONDS
        for t in trials
    )


def _seconds_since(moment: datetime | None) -> float:
    """Seconds since a trial's timestamp: naive local time (RDB storages) or aware (journal)."""
    if moment is None:
        return float("inf")
    return (datetime.now(moment.tzinfo) - moment).total_seconds()


def configurations_taken(trials: Iterable[optuna.trial.FrozenTrial]) -> int:
    """What of the budget is spoken for: configurations fitted, sampled trials running
    anywhere, and retries on their way. Sampling stops, and a waiting process samples again,
    on this count (``study.sample``, ``shared.settle``)."""
    trials = list(trials)
    running = sum(t.state == TrialState.RUNNING and is_sampled(t) for t in trials)
    fitted = sum(counts_as_configuration(t) for t in trials)
    return fitted + running + retries_on_the_way(trials)


def configurations_ahead(trial: optuna.Trial) -> int:
    """The configurations fitted plus the sampled trials still running with a lower number:
    the trial runs only while that is under the study's budget.

    Trial numbers are dense and unique across processes, so the lower number goes first when
    two processes start trials at once; a running trial that turns out a repeat or fails frees
    its place, and the processes waiting in ``shared.settle`` sample again. A trial whose process
    died keeps its place for its retry (``retries_on_the_way``).
    """
    trials = trial.study.get_trials(deepcopy=False)
    ahead = sum(
        counts_as_configuration(t)
        or (
            t.state == TrialState.RUNNING
            and t.number < trial.number
            and is_sampled(t)
            and REPEAT_OF not in t.user_attrs
        )
        for t in trials
    )
    return ahead + retries_on_the_way(trials)


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
    position: int | None = None  # its place among the study's sampled configurations


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


_CACHE_FOLDERS: list[tempfile.TemporaryDirectory] = []  # removed when the process exits


@functools.cache
def fit_cache():
    """Where the trials' pipelines keep their fitted steps (scikit-learn's
    ``Pipeline(memory=...)``, a ``joblib.Memory`` in a private temporary folder).

    A sweep fits the same outlier step on the same fit sample for every scaler, model and k it
    tries with that step, and an isolation forest is most of a trial's fit (0.9 s of 1.5 s on a
    20,000-customer sample): cached on the step's parameters and its input, it is fitted once.
    """
    from joblib import Memory

    folder = tempfile.TemporaryDirectory(prefix="segmentation-fits-")
    _CACHE_FOLDERS.append(folder)
    return Memory(folder.name, verbose=0)


def cached_pipeline(space: SweepSpace, choice: Choice):
    """``space.pipeline(choice)`` fitting through ``fit_cache()`` (the trials and the
    stability refits on the fit sample; the refit on every customer is not cached)."""
    return space.pipeline(choice).set_params(memory=fit_cache())


def run_trial(
    features: pd.DataFrame,
    X_eval: np.ndarray,
    choice: Choice,
    space: SweepSpace,
    sample_size: int,
    seed: int,
    fit_features: pd.DataFrame | None = None,
) -> TrialOutcome:
    """Fit one configuration on ``fit_features`` (default: all customers; the sweep passes its
    fit sample, see ``src.sweep.sample``) and score the labels it gives every customer."""
    pipe = cached_pipeline(space, choice)
    t0 = time.perf_counter()
    pipe.fit(features if fit_features is None else fit_features)
    fit_seconds = time.perf_counter() - t0
    pipe.set_params(memory=None)  # the fitted pipeline is logged and kept without the cache
    labels = np.asarray(pipe.predict(features))
    metrics, shares = score_labels(pipe, features, X_eval, labels, sample_size, seed)
    metrics["fit_seconds"] = fit_seconds
    return TrialOutcome(metrics=metrics, labels=labels, pipeline=pipe, shares=shares)


@dataclass
class Objective:
    """The Optuna objective: one trial per call, reported to ``hooks``.

    ``budget`` is the number of distinct configurations the whole study needs (None: no limit,
    the caller stops sampling); with ``only_queued`` a trial that Optuna did not take from the
    queue (another process took the last one) is pruned as surplus. ``reap`` is called while a
    trial waits for another process, to fail trials whose process died.
    """

    features: pd.DataFrame
    X_eval: np.ndarray
    space: SweepSpace
    objective: str
    min_cluster_share: float
    sample_size: int
    seed: int
    hooks: Sequence[TrialHooks] = ()
    fit_features: pd.DataFrame | None = None  # the customers fits use (None: all)
    budget: int | None = None
    only_queued: bool = False
    reap: Callable[[optuna.Study], Any] | None = None
    poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        self._hooks = _Hooks(self.hooks)
        self._position: int | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER, worker_id())
        refinement = trial.user_attrs.get(KIND) == K_REFINEMENT
        # A queued trial is a k refinement or a retry (which carries its configuration).
        if self.only_queued and not refinement and not trial.params:
            self._surplus(trial, "the queue was already empty")
        position = None
        if not refinement and self.budget is not None:
            ahead = configurations_ahead(trial)
            if ahead >= self.budget:
                self._surplus(trial, "the study already has its configurations")
            position = ahead + 1
        choice = Choice.of(
            {
                **{g: trial.suggest_categorical(g, self.space.choices[g]) for g in SWEPT_GROUPS},
                "k": trial.suggest_int("k", self.space.k_low, self.space.k_high),
            }
        )
        self._hooks.started(trial.number, choice)
        earlier = self._earlier(trial)
        if earlier is not None:
            return self._repeat(trial, choice, earlier, refinement)
        self._position = position
        try:
            with interruptible():
                outcome = run_trial(
                    self.features,
                    self.X_eval,
                    choice,
                    self.space,
                    self.sample_size,
                    self.seed,
                    self.fit_features,
                )
        except DegenerateClustering as exc:
            self._tell(trial, choice, REJECTED, {}, [], str(exc), refinement=refinement)
            _record(trial, {STATE: REJECTED, REASON: str(exc)})
            raise optuna.TrialPruned(str(exc)) from exc
        except KeyboardInterrupt:
            self._tell(
                trial, choice, INTERRUPTED, {}, [], "interrupted (Ctrl-C)", refinement=refinement
            )
            _record(trial, {STATE: INTERRUPTED})
            raise
        except Exception as exc:
            # The child run keeps the whole traceback; the progress line shows its last line.
            note = "".join(traceback.format_exception(exc)).strip()[-5000:]
            self._tell(trial, choice, FAILED, {}, [], note, refinement=refinement)
            _record(trial, {STATE: FAILED, REASON: note.splitlines()[-1][:1000]})
            raise
        metrics = {name: float(value) for name, value in outcome.metrics.items()}
        shares = [round(s, 5) for s in outcome.shares]
        if not passes_min_share(metrics, self.min_cluster_share):
            reason = (
                f"smallest segment holds {metrics['min_cluster_share']:.2%} of customers "
                f"(< sweep.min_cluster_share={self.min_cluster_share:.2%})"
            )
            self._tell(
                trial, choice, REJECTED, metrics, outcome.shares, reason, outcome, refinement
            )
            _record(trial, {METRICS: metrics, SHARES: shares, STATE: REJECTED, REASON: reason})
            raise optuna.TrialPruned(reason)
        self._tell(trial, choice, COMPLETE, metrics, outcome.shares, None, outcome, refinement)
        _record(trial, {METRICS: metrics, SHARES: shares, STATE: COMPLETE})
        return metrics[self.objective]

    def _surplus(self, trial: optuna.Trial, why: str) -> None:
        """Prune a trial before it proposes anything: no configuration, no child run."""
        trial.set_user_attr(STATE, SURPLUS)
        raise optuna.TrialPruned(why)

    def _earlier(self, trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
        """The finished trial this one repeats; waits while a lower-numbered trial of another
        process fits the same configuration, so it is fitted once."""
        while True:
            earlier, running = _same_params(trial)
            if earlier is not None or running is None:
                return earlier
            if self.reap is not None:
                self.reap(trial.study)
            with interruptible():
                time.sleep(self.poll_seconds)

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
                position=self._position,
            )
        )

    def _repeat(self, trial, choice: Choice, earlier, refinement: bool) -> float:
        """Record a repeated configuration with the earlier result instead of refitting it.

        Fits are seeded, so a refit would give the same labels and metrics. The repeat is not
        counted towards ``sweep.n_trials`` (see ``counts_as_configuration``).
        """
        state = earlier.user_attrs[STATE]
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
        _record(trial, {REPEAT_OF: earlier.number, STATE: state})
        if state != COMPLETE:
            raise optuna.TrialPruned(earlier.user_attrs.get(REASON, note))
        return float(metrics[self.objective])


def _record(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """The trial's outcome in Optuna, after the hooks have it in MLflow (STATE written last: it
    marks the trial as a result)."""
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _same_params(
    trial: optuna.Trial,
) -> tuple[optuna.trial.FrozenTrial | None, optuna.trial.FrozenTrial | None]:
    """(an earlier finished trial with identical choices, else a lower-numbered trial fitting
    them right now or still drawing them). TPE proposes repeats on small spaces, and several
    processes may draw the same configuration at once.

    A trial writes its choices one at a time (a storage call each): a lower-numbered running
    trial whose choices so far agree with this one's, but are not all written yet, may be about
    to fit the same configuration. It is waited for too, or both would fit it (it does not wait
    for this higher-numbered one)."""
    mine = trial.params
    running = None
    for t in trial.study.get_trials(deepcopy=False):
        if t.number == trial.number or REPEAT_OF in t.user_attrs:
            continue
        same = t.params == mine
        if same and t.state in (TrialState.COMPLETE, TrialState.PRUNED) and is_result(t):
            return t, None
        drawing = len(t.params) < len(mine) and all(mine.get(k) == v for k, v in t.params.items())
        if (
            (same or drawing)
            and t.state == TrialState.RUNNING
            and t.number < trial.number
            and running is None
        ):
            running = t
    return None, running

"""The study: samplers, creating, joining or resuming a sweep, sampling until enough distinct
configurations are fitted (by one process or several, see ``src.sweep.shared``), the k
refinement, the trials table, the best choice and the curves over k of the chosen
configuration."""

from __future__ import annotations

import itertools
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from src.errors import SegmentationError
from src.model.evaluation import DegenerateClustering
from src.result import SWEPT_GROUPS, Choice
from src.sweep import shared
from src.sweep.objective import (
    COMPLETE,
    K_REFINEMENT,
    KIND,
    METRICS,
    REPEAT_OF,
    STATE,
    configurations_taken,
    counts_as_configuration,
    is_result,
    is_sampled,
    run_trial,
)
from src.sweep.space import SweepSpace

# Objective name -> Optuna direction.
DIRECTIONS = {
    "silhouette": "maximize",
    "davies_bouldin": "minimize",
    "calinski_harabasz": "maximize",
}
# Study user attributes that say which sweep a study is (a joining worker checks them).
CREATED = "created"
# The sampler may keep proposing configurations already tried once the good region is mapped;
# sampling stops after this many proposals per distinct configuration still wanted.
_MAX_PROPOSALS_PER_CONFIGURATION = 5


def make_sampler(name: str, space: SweepSpace, seed: int) -> optuna.samplers.BaseSampler:
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


@dataclass(frozen=True)
class OpenedStudy:
    """A sweep's study and how this process came to it: ``owner`` (it created the study or
    resumes it, and answers for its parent run) or joined (a worker)."""

    study: optuna.Study
    owner: bool
    resumed: bool = False


def space_key(space: SweepSpace) -> str:
    """What a joining worker must sweep alike: the choices per group and the k range."""
    return json.dumps({**space.choices, "k": [space.k_low, space.k_high]}, sort_keys=True)


def open_study(
    storage,
    experiment: str,
    fingerprint: str,
    objective: str,
    make: Callable[[int], optuna.samplers.BaseSampler],
    seed: int,
    resume: bool,
) -> optuna.Study:
    """A new study per sweep, or with ``resume`` the latest one of this experiment and data."""
    return join_or_create(storage, experiment, fingerprint, objective, make, seed, resume).study


def join_or_create(
    storage,
    experiment: str,
    fingerprint: str,
    objective: str,
    make: Callable[[int], optuna.samplers.BaseSampler],
    seed: int,
    resume: bool = False,
    *,
    worker: bool = False,
    study_name: str | None = None,
    space: str | None = None,
    join_timeout: float = 0.0,
    poll: float = 1.0,
) -> OpenedStudy:
    """The study this process works on.

    - ``resume``: the latest study of this experiment and data (``make(seed)`` builds the
      sampler; a resumed one is seeded past the trials it has, so it does not replay the
      proposals of the interrupted run);
    - a leader (``worker`` False) creates a study named ``study_name`` (default
      ``<experiment>-<timestamp>``); when a study of that name exists, it joins it;
    - a worker joins ``study_name``, or the newest open sweep of this experiment on the same
      data and objective, waiting up to ``join_timeout`` seconds for one to appear.

    A joined study must sweep the same data, objective and ``space`` (``space_key``).
    """
    # Failed trials are reported on their progress line and in their child run instead.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    wanted = {
        "experiment": experiment,
        "data_fingerprint": fingerprint,
        "objective": objective,
        "search_space": space,
    }
    if resume:
        study = _resume(storage, wanted, make, seed)
        study.set_user_attr(shared.PHASE, shared.SAMPLING)
        return OpenedStudy(study, owner=True, resumed=True)
    if not worker:
        name = study_name or f"{experiment}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}"
        try:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                direction=DIRECTIONS[objective],
                sampler=make(seed),
            )
        except optuna.exceptions.DuplicatedStudyError:
            study_name = name  # started alike by several processes: the first one leads
        else:
            for key, value in wanted.items():
                if value is not None:
                    study.set_user_attr(key, value)
            study.set_user_attr(shared.PHASE, shared.SAMPLING)
            study.set_user_attr(CREATED, datetime.now(UTC).isoformat())
            return OpenedStudy(study, owner=True)
    name = study_name or _wait_for_open_sweep(storage, wanted, join_timeout, poll)
    study = _load(storage, name, make(seed + os.getpid()), join_timeout, poll)
    _check_same_sweep(study, wanted)
    if shared.phase(study) in shared.CLOSED:
        raise SegmentationError(
            f"The sweep {name} is already {shared.phase(study)}: there is nothing left to join. "
            "Start a new sweep without sweep.role=worker, or give another sweep.study_name."
        )
    return OpenedStudy(study, owner=False)


def _matches(attrs: Mapping, wanted: Mapping) -> bool:
    return all(v is None or attrs.get(k) == v for k, v in wanted.items() if k != "search_space")


def _resume(storage, wanted: Mapping, make, seed: int) -> optuna.Study:
    summaries = [
        s for s in optuna.get_all_study_summaries(storage) if _matches(s.user_attrs, wanted)
    ]
    if not summaries:
        raise SegmentationError(
            f"sweep.resume=true but the Optuna storage holds no earlier sweep of experiment "
            f"'{wanted['experiment']}' on this data with objective '{wanted['objective']}'. Run "
            "without sweep.resume to start a new sweep."
        )
    latest = max(summaries, key=lambda s: s.datetime_start or datetime.min)
    return optuna.load_study(
        study_name=latest.study_name, storage=storage, sampler=make(seed + latest.n_trials)
    )


def _wait_for_open_sweep(storage, wanted: Mapping, timeout: float, poll: float) -> str:
    """The newest sweep of this experiment, data and objective that is not finalised."""

    def newest() -> str | None:
        candidates = [
            s
            for s in optuna.get_all_study_summaries(storage)
            if _matches(s.user_attrs, wanted)
            and s.user_attrs.get(shared.PHASE, shared.SAMPLING) not in shared.CLOSED
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda s: s.user_attrs.get(CREATED, "")).study_name

    deadline = time.monotonic() + timeout
    while (name := newest()) is None:
        if time.monotonic() >= deadline:
            raise SegmentationError(
                f"sweep.role=worker found no open sweep of experiment '{wanted['experiment']}' "
                f"on this data (fingerprint {wanted['data_fingerprint']}, objective "
                f"'{wanted['objective']}') within {timeout:g} s. Start the first process without "
                "sweep.role=worker (it creates the sweep), check that both use the same "
                "sweep.storage and data, or raise sweep.join_timeout."
            )
        _sleep(poll)
    return name


def _load(storage, name: str, sampler, timeout: float, poll: float) -> optuna.Study:
    """Load study ``name``, waiting up to ``timeout`` for it and for its creator's attributes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        except KeyError:
            study = None
        if study is not None and "objective" in study.user_attrs:
            return study
        if time.monotonic() >= deadline:
            raise SegmentationError(
                f"No sweep named sweep.study_name={name} in the Optuna storage (waited "
                f"{timeout:g} s). Start it first, or check sweep.storage and the name."
            )
        _sleep(poll)


_WHAT = {
    "experiment": "experiment",
    "data_fingerprint": "data (fingerprint)",
    "objective": "objective",
    "search_space": "search space (sweep.search_space, sweep.k)",
}


def _check_same_sweep(study: optuna.Study, wanted: Mapping) -> None:
    have = study.user_attrs
    for key, value in wanted.items():
        if value is not None and key in have and have[key] != value:
            raise SegmentationError(
                f"The sweep {study.study_name} has another {_WHAT[key]} than this process: "
                f"{have[key]} there, {value} here. Start every worker of a sweep with the same "
                "experiment, data and sweep settings."
            )


def _sleep(seconds: float) -> None:
    from src.errors import interruptible

    with interruptible():
        time.sleep(seconds)


def fitted_configurations(study: optuna.Study) -> int:
    """Sampled trials that fitted a configuration: repeats, surplus and interrupted trials and
    the k refinement do not count (``objective.counts_as_configuration``)."""
    return sum(1 for t in study.get_trials(deepcopy=False) if counts_as_configuration(t))


@dataclass(frozen=True)
class Budget:
    """How many distinct configurations to fit, and the stops that come first."""

    n_configurations: int
    space_size: int
    timeout: float | None = None

    def target(self) -> int:
        return min(self.n_configurations, self.space_size)


def _nothing(study: optuna.Study) -> None:
    return None


def sample(
    study: optuna.Study,
    objective: Callable,
    budget: Budget,
    reap: Callable[[optuna.Study], object] = _nothing,
    poll: float = 1.0,
) -> None:
    """Run trials until the study holds ``budget`` distinct fitted configurations, however many
    processes share it (repeats not counted), then wait until no trial runs anywhere.

    Stops earlier on the timeout, or when the sampler only proposes configurations already
    tried (``_MAX_PROPOSALS_PER_CONFIGURATION`` proposals per configuration still wanted). A
    process whose part is done waits for the others' running trials and samples again when one
    of them fails or turns out a repeat, or runs a trial's retry (``shared.settle``). A budget
    that covers the whole space queues every configuration not tried yet instead of sampling
    (``queue_whole_space``).
    """
    target = budget.target()
    wanted = max(target - fitted_configurations(study), 0)
    space = getattr(objective, "space", None)
    if wanted > 0 and target >= budget.space_size and isinstance(space, SweepSpace):
        queue_whole_space(study, space, getattr(objective, "seed", 0))
    proposals = {"left": max(wanted, 1) * _MAX_PROPOSALS_PER_CONFIGURATION}
    deadline = None if budget.timeout is None else time.monotonic() + budget.timeout

    def enough(study: optuna.Study, _trial: FrozenTrial) -> None:
        proposals["left"] -= 1
        taken = configurations_taken(study.get_trials(deepcopy=False))
        if taken >= target or proposals["left"] <= 0:
            study.stop()

    def can_sample() -> bool:
        return proposals["left"] > 0 and (deadline is None or time.monotonic() < deadline)

    if hasattr(objective, "budget"):
        objective = replace(objective, budget=target)
    while True:
        if wanted > 0 or waiting_trials(study):
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            study.optimize(
                objective,
                timeout=left,
                catch=(Exception,),
                callbacks=[enough],
                gc_after_trial=False,
            )
        if not shared.settle(study, target, reap, poll, can_sample()):
            return
        wanted = 1


def queue_whole_space(study: optuna.Study, space: SweepSpace, seed: int) -> int:
    """Queue every configuration of ``space`` that no trial has tried, is trying or waits to
    try, in a seeded random order; returns how many.

    For a budget that covers the whole space: every configuration gets fitted, so which one the
    sampler proposes next no longer matters, and TPE on a small space proposes most of them
    several times before it finds the last ones (on 27 configurations, 135 proposals reached
    25 of them), each repeat an Optuna trial and a child run of its own. A trial that did not
    give a result (interrupted, surplus) is queued again. The random order keeps a sweep cut
    short by ``sweep.timeout`` or Ctrl-C spread over the space. Processes of one sweep that
    queue at the same moment may queue a configuration twice (Optuna's queue has no atomic
    check); the later copy becomes a repeat or a surplus trial, never a second fit.
    """
    taken = set()
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.WAITING:
            params = t.system_attrs.get("fixed_params", t.params)
        elif t.state == TrialState.RUNNING or is_result(t):
            params = t.params
        else:
            continue
        if len(params) == len(SWEPT_GROUPS) + 1:
            taken.add(Choice.of(params))
    grid = space.grid()
    untried = [
        choice
        for values in itertools.product(*(grid[g] for g in (*SWEPT_GROUPS, "k")))
        if (choice := Choice.of(dict(zip((*SWEPT_GROUPS, "k"), values, strict=True)))) not in taken
    ]
    for i in np.random.default_rng(seed).permutation(len(untried)):
        study.enqueue_trial(untried[i].as_dict())
    return len(untried)


def queue_k_refinement(study: optuna.Study, space: SweepSpace) -> int:
    """Queue every untried k for the best outliers/scaler/model; returns how many.

    The sampler picks the preprocessing and model; k is then settled by scanning its whole range
    for that configuration (the elbow and silhouette-vs-k curves need those fits anyway), so a
    sweep cannot miss the best k of its best configuration by chance.
    """
    try:
        best = Choice.of(study.best_trial.params)
    except ValueError:
        return 0
    tried = known_k_metrics(study, best)
    queued = {
        int(t.params["k"]) for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    }
    missing = [k for k in space.ks() if k not in tried and k not in queued]
    for k in missing:
        study.enqueue_trial(
            {**best.as_dict(), "k": k}, user_attrs={KIND: K_REFINEMENT}, skip_if_exists=True
        )
    return len(missing) + len(queued)


def waiting_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def run_queued(study: optuna.Study, objective: Callable) -> None:
    """Run the queued trials until none is left waiting. Other processes may take some: a trial
    this process starts after the queue ran dry is pruned as surplus, never sampled afresh."""
    if hasattr(objective, "only_queued"):
        objective = replace(objective, only_queued=True, budget=None)

    def drained(study: optuna.Study, _trial: FrozenTrial) -> None:
        if not waiting_trials(study):
            study.stop()

    while waiting := waiting_trials(study):
        study.optimize(
            objective,
            n_trials=waiting,
            catch=(Exception,),
            callbacks=[drained],
            gc_after_trial=False,
        )


def refine(
    study: optuna.Study,
    objective: Callable,
    reap: Callable[[optuna.Study], object] = _nothing,
    poll: float = 1.0,
) -> None:
    """Run every queued trial (the k refinement, retries), with whichever processes help, and
    wait until none runs anywhere."""
    while True:
        run_queued(study, objective)
        if not shared.settle(study, None, reap, poll, can_sample=False):
            return


def trial_metrics(t: FrozenTrial, trials: list) -> dict[str, float]:
    """A trial's metrics; a repeated configuration points at the trial that measured them.

    ``trials`` is the study's trial list (index = trial number).
    """
    if METRICS in t.user_attrs:
        return dict(t.user_attrs[METRICS])
    if REPEAT_OF in t.user_attrs:
        return dict(trials[t.user_attrs[REPEAT_OF]].user_attrs.get(METRICS, {}))
    return {}


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per configuration tried (repeats left out), best first.

    ``trial`` is numbered from 1, as people read it (Optuna counts from 0); ``repeats`` counts
    how often the sampler proposed the configuration again.
    """
    trials = study.get_trials(deepcopy=False)
    repeats: dict[int, int] = {}
    for t in trials:
        if REPEAT_OF in t.user_attrs:
            repeats[t.user_attrs[REPEAT_OF]] = repeats.get(t.user_attrs[REPEAT_OF], 0) + 1
    rows = []
    for t in trials:
        if REPEAT_OF in t.user_attrs or not t.params:
            continue
        row = {
            "trial": t.number + 1,
            **t.params,
            "state": t.user_attrs.get(STATE, t.state.name.lower()),
            "source": "k refinement" if not is_sampled(t) else "sampler",
            "repeats": repeats.get(t.number, 0),
        }
        row.update(trial_metrics(t, trials))
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    objective = study.user_attrs.get("objective", "silhouette")
    ascending = DIRECTIONS.get(objective) == "minimize"
    df["_ok"] = df["state"] == COMPLETE
    if objective in df:
        df = df.sort_values(["_ok", objective], ascending=[False, ascending], na_position="last")
    return df.drop(columns="_ok").reset_index(drop=True)


@dataclass(frozen=True)
class Best:
    choice: Choice
    trial: int  # Optuna's number, from 0
    value: float


def best_choice(study: optuna.Study) -> Best:
    try:
        best = study.best_trial
    except ValueError:
        raise SegmentationError(
            "No trial produced an acceptable segmentation: every trial failed or had a segment "
            "smaller than sweep.min_cluster_share. Lower sweep.min_cluster_share, widen sweep.k, "
            "or add outlier strategies to sweep.search_space.outliers."
        ) from None
    return Best(Choice.of(best.params), best.user_attrs.get(REPEAT_OF, best.number), best.value)


def best_trials_at(study: optuna.Study, k: int) -> list[Best]:
    """Complete (acceptable) trials at ``k``, best objective first; repeats left out."""
    ascending = DIRECTIONS.get(study.user_attrs.get("objective", "silhouette")) == "minimize"
    found = [
        Best(Choice.of(t.params), t.number, float(t.value))
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if REPEAT_OF not in t.user_attrs and t.params and int(t.params["k"]) == k
    ]
    return sorted(found, key=lambda b: (b.value if ascending else -b.value, b.trial))


def trial_of(study: optuna.Study, choice: Choice) -> int | None:
    """Optuna's number of the trial that fitted ``choice`` (a repeat points at it), or None."""
    for t in study.get_trials(deepcopy=False):
        fitted = METRICS in t.user_attrs and REPEAT_OF not in t.user_attrs and t.params
        if fitted and Choice.of(t.params) == choice:
            return t.number
    return None


def known_k_metrics(study: optuna.Study, choice: Choice) -> dict[int, dict[str, float]]:
    """Metrics of earlier trials that used the same outliers/scaler/model, keyed by k."""
    out: dict[int, dict[str, float]] = {}
    for t in study.get_trials(deepcopy=False):
        if METRICS not in t.user_attrs:
            continue
        if all(t.params.get(g) == getattr(choice, g) for g in SWEPT_GROUPS):
            out[int(t.params["k"])] = dict(t.user_attrs[METRICS])
    return out


CURVE_METRICS = (
    "inertia",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "min_cluster_share",
)


def k_curve(
    features: pd.DataFrame,
    X_eval: np.ndarray,
    choice: Choice,
    space: SweepSpace,
    sample_size: int,
    seed: int,
    known: Mapping[int, Mapping[str, float]] | None = None,
    fit_features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Inertia, silhouette and the other metrics against k for the chosen configuration.

    Values a trial already measured for the same configuration are reused, not refitted; the
    others are fitted like the trials were (on ``fit_features`` when given).
    """
    rows = []
    known = known or {}
    for k in space.ks():
        if k in known:
            m = known[k]
        else:
            try:
                m = run_trial(
                    features,
                    X_eval,
                    Choice.of({**choice.as_dict(), "k": k}),
                    space,
                    sample_size,
                    seed,
                    fit_features,
                ).metrics
            except DegenerateClustering:
                continue
        rows.append({"k": k, **{name: m[name] for name in CURVE_METRICS}})
    return pd.DataFrame(rows, columns=["k", *CURVE_METRICS])

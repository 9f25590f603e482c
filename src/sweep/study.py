"""The study: samplers, opening or resuming a sweep, sampling until enough distinct
configurations are fitted, the k refinement, the trials table, the best choice and the curves
over k of the chosen configuration."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from src.errors import SegmentationError
from src.model.evaluation import DegenerateClustering
from src.result import SWEPT_GROUPS, Choice
from src.sweep.objective import (
    COMPLETE,
    INTERRUPTED,
    K_REFINEMENT,
    KIND,
    METRICS,
    REPEAT_OF,
    STATE,
    run_trial,
)
from src.sweep.space import SweepSpace

# Objective name -> Optuna direction.
DIRECTIONS = {
    "silhouette": "maximize",
    "davies_bouldin": "minimize",
    "calinski_harabasz": "maximize",
}
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
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


def open_study(
    storage: str,
    experiment: str,
    fingerprint: str,
    objective: str,
    make: Callable[[int], optuna.samplers.BaseSampler],
    seed: int,
    resume: bool,
) -> optuna.Study:
    """A new study per sweep, or with ``resume`` the latest one of this experiment and data.

    ``make(seed)`` builds the sampler. A resumed study's sampler is seeded past the trials it
    already has, so it does not replay the proposals of the interrupted run.
    """
    # Failed trials are reported on their progress line and in their child run instead.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
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
                f"sweep.resume=true but the Optuna storage holds no earlier sweep of experiment "
                f"'{experiment}' on this data with objective '{objective}'. Run without "
                "sweep.resume to start a new sweep."
            )
        latest = max(summaries, key=lambda s: s.datetime_start or datetime.min)
        study = optuna.load_study(
            study_name=latest.study_name, storage=storage, sampler=make(seed + latest.n_trials)
        )
        _fail_stale(study)
        return study
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    study = optuna.create_study(
        study_name=f"{experiment}-{stamp}",
        storage=storage,
        direction=DIRECTIONS[objective],
        sampler=make(seed),
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


def is_sampled(t: FrozenTrial) -> bool:
    """A configuration the sampler proposed (not one the k refinement queued)."""
    return t.user_attrs.get(KIND) != K_REFINEMENT


def fitted_configurations(study: optuna.Study) -> int:
    """Sampled trials that fitted a configuration: repeats, interrupted trials and the k
    refinement do not count."""
    return sum(
        1
        for t in study.get_trials(deepcopy=False, states=_FINISHED)
        if is_sampled(t)
        and REPEAT_OF not in t.user_attrs
        and t.user_attrs.get(STATE) not in (None, INTERRUPTED)
    )


@dataclass(frozen=True)
class Budget:
    """How many distinct configurations to fit, and the stops that come first."""

    n_configurations: int
    space_size: int
    timeout: float | None = None
    n_jobs: int = 1

    def target(self) -> int:
        return min(self.n_configurations, self.space_size)


def sample(study: optuna.Study, objective: Callable, budget: Budget) -> None:
    """Run trials until ``budget`` distinct configurations are fitted (repeats not counted).

    Stops earlier on the timeout, or when the sampler only proposes configurations already
    tried (``_MAX_PROPOSALS_PER_CONFIGURATION`` proposals per configuration still wanted).
    """
    wanted = budget.target() - fitted_configurations(study)
    if wanted <= 0:
        return
    proposals = {"left": wanted * _MAX_PROPOSALS_PER_CONFIGURATION}

    def enough(study: optuna.Study, _trial: FrozenTrial) -> None:
        proposals["left"] -= 1
        if fitted_configurations(study) >= budget.target() or proposals["left"] <= 0:
            study.stop()

    study.optimize(
        objective,
        timeout=budget.timeout,
        n_jobs=budget.n_jobs,
        catch=(Exception,),
        callbacks=[enough],
        gc_after_trial=False,
    )


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


def run_queued(study: optuna.Study, objective: Callable, n_jobs: int = 1) -> None:
    """Run the queued trials until none is left waiting (parallel workers may race for them)."""
    while waiting := waiting_trials(study):
        study.optimize(
            objective,
            n_trials=waiting,
            n_jobs=min(n_jobs, waiting),
            catch=(Exception,),
            gc_after_trial=False,
        )


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
) -> pd.DataFrame:
    """Inertia, silhouette and the other metrics against k for the chosen configuration.

    Values a trial already measured for the same configuration are reused, not refitted.
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
                ).metrics
            except DegenerateClustering:
                continue
        rows.append({"k": k, **{name: m[name] for name in CURVE_METRICS}})
    return pd.DataFrame(rows, columns=["k", *CURVE_METRICS])

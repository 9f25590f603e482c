"""The study: distinct configurations counted, the k refinement drained, one row per
configuration, resume."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from src.config import compose_config
from src.model.evaluation import EvaluationSpace
from src.sweep import study as sw
from src.sweep.objective import Objective
from src.sweep.space import sweep_space


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(1)
    values = np.exp(np.vstack([rng.normal(m, 0.3, size=(50, 3)) for m in (1.0, 3.0, 5.0)]))
    features = pd.DataFrame(values, columns=["recency_days", "frequency", "monetary"])
    cfg = compose_config(
        "config",
        "sweep.k.low=2",
        "sweep.k.high=5",
        "sweep.search_space.outliers=[none]",
        "sweep.search_space.scaler=[log_standard,robust]",
        "sweep.search_space.model=[kmeans]",
    )
    space = sweep_space(cfg)
    objective = Objective(
        features, EvaluationSpace().fit_transform(features), space, "silhouette", 0.0, 10_000, 0
    )
    return space, objective


def new_study(space, sampler="tpe", seed=0):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize", sampler=sw.make_sampler(sampler, space, seed))
    study.set_user_attr("objective", "silhouette")
    return study


def test_sampling_fits_the_asked_number_of_distinct_configurations(setup):
    space, objective = setup
    study = new_study(space)
    sw.sample(study, objective, sw.Budget(6, space.size()))
    assert sw.fitted_configurations(study) == 6
    distinct = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(distinct) == 6


def test_sampling_stops_when_the_space_is_exhausted(setup):
    space, objective = setup
    study = new_study(space, sampler="grid")
    sw.sample(study, objective, sw.Budget(100, space.size()))
    assert sw.fitted_configurations(study) == space.size() == 8


def test_the_k_refinement_tries_every_k_of_the_best_configuration(setup):
    space, objective = setup
    study = new_study(space)
    sw.sample(study, objective, sw.Budget(2, space.size()))
    queued = sw.queue_k_refinement(study, space)
    sw.run_queued(study, objective)
    best = sw.best_choice(study).choice
    assert sorted(sw.known_k_metrics(study, best)) == [2, 3, 4, 5]
    assert sw.waiting_trials(study) == 0
    assert sw.fitted_configurations(study) == 2  # refinement trials are not sampled ones
    assert queued == sum(t.user_attrs.get("kind") == "k_refinement" for t in study.trials)


def test_the_trials_table_has_one_row_per_configuration_best_first(setup):
    space, objective = setup
    study = new_study(space)
    for _ in range(2):  # the same configuration twice: the second is a repeat
        study.enqueue_trial({"outliers": "none", "scaler": "robust", "model": "kmeans", "k": 3})
    study.enqueue_trial({"outliers": "none", "scaler": "log_standard", "model": "kmeans", "k": 3})
    study.optimize(objective, n_trials=3)
    table = sw.trials_frame(study)
    assert len(table) == 2
    assert table["silhouette"].is_monotonic_decreasing
    assert table.loc[table["scaler"] == "robust", "repeats"].item() == 1


def test_resume_without_an_earlier_sweep_is_a_clear_error(tmp_path, setup):
    space, _ = setup
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with pytest.raises(Exception, match="no earlier sweep"):
        sw.open_study(
            storage, "x", "f", "silhouette", lambda s: sw.make_sampler("tpe", space, s), 0, True
        )


def test_resume_reopens_the_latest_study_of_the_experiment(tmp_path, setup):
    space, objective = setup
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"

    def make(seed):
        return sw.make_sampler("tpe", space, seed)

    first = sw.open_study(storage, "exp", "fp", "silhouette", make, 0, False)
    sw.sample(first, objective, sw.Budget(2, space.size()))
    again = sw.open_study(storage, "exp", "fp", "silhouette", make, 0, True)
    assert again.study_name == first.study_name
    assert sw.fitted_configurations(again) == 2


def test_a_budget_covering_the_whole_space_fits_each_configuration_once(setup):
    space, objective = setup
    study = new_study(space)  # TPE would propose most of the 8 configurations several times
    sw.sample(study, objective, sw.Budget(100, space.size()))
    assert sw.fitted_configurations(study) == space.size() == 8
    assert len(study.trials) == 8


def test_queueing_the_space_skips_what_is_tried_or_queued(setup):
    space, objective = setup
    study = new_study(space)
    tried = {"outliers": "none", "scaler": "robust", "model": "kmeans", "k": 3}
    study.enqueue_trial(tried)
    study.optimize(objective, n_trials=1)
    study.enqueue_trial({**tried, "k": 4})
    assert sw.queue_whole_space(study, space, seed=0) == space.size() - 2
    queued = [t.system_attrs["fixed_params"] for t in study.trials if t.state.name == "WAITING"]
    assert len(queued) == space.size() - 1
    assert tried not in queued
    assert len({tuple(sorted(p.items())) for p in queued}) == len(queued)

"""One trial: fit, score, reject, reuse a repeat, and tell the hooks what happened."""

from __future__ import annotations

import dataclasses

import numpy as np
import optuna
import pandas as pd
import pytest

from src.config import compose_config
from src.model.evaluation import EvaluationSpace
from src.sweep import objective as obj
from src.sweep.objective import Objective, TrialHooks
from src.sweep.space import sweep_space


class Recorder(TrialHooks):
    def __init__(self):
        self.records = []

    def finished(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    blobs = [rng.normal(loc, 0.3, size=(60, 3)) for loc in (1.0, 3.0, 5.0)]
    values = np.exp(np.vstack(blobs))
    return pd.DataFrame(values, columns=["recency_days", "frequency", "monetary"])


def make_objective(features, recorder, min_share=0.02, **space_overrides):
    overrides = [f"sweep.search_space.{k}=[{v}]" for k, v in space_overrides.items()]
    cfg = compose_config("config", "sweep.k.low=3", "sweep.k.high=3", *overrides)
    space = sweep_space(cfg)
    X = EvaluationSpace().fit_transform(features)
    return Objective(features, X, space, "silhouette", min_share, 10_000, 0, hooks=[recorder])


def study_with(fixed: list[dict]) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    for params in fixed:
        study.enqueue_trial(params)
    return study


PARAMS = {"outliers": "none", "scaler": "log_standard", "model": "kmeans", "k": 3}


def test_a_complete_trial_records_its_metrics(features):
    recorder = Recorder()
    study = study_with([PARAMS])
    study.optimize(make_objective(features, recorder), n_trials=1)
    (record,) = recorder.records
    assert record.state == obj.COMPLETE and record.outcome is not None
    assert study.trials[0].user_attrs["metrics"]["silhouette"] == pytest.approx(study.best_value)


def test_a_repeat_is_not_refitted_and_points_at_the_first(features, monkeypatch):
    recorder = Recorder()
    study = study_with([PARAMS, PARAMS])
    fits = []
    real = obj.run_trial
    monkeypatch.setattr(obj, "run_trial", lambda *a, **k: fits.append(1) or real(*a, **k))
    study.optimize(make_objective(features, recorder), n_trials=2)
    assert len(fits) == 1
    assert recorder.records[1].repeat_of == 0 and recorder.records[1].outcome is None
    assert study.trials[1].value == study.trials[0].value


def test_a_too_small_segment_is_rejected(features):
    recorder = Recorder()
    study = study_with([PARAMS])
    study.optimize(make_objective(features, recorder, min_share=0.9), n_trials=1)
    assert recorder.records[0].state == obj.REJECTED
    assert "sweep.min_cluster_share" in recorder.records[0].note
    assert study.trials[0].state == optuna.trial.TrialState.PRUNED


def test_a_failing_fit_is_recorded_with_its_traceback(features, monkeypatch):
    recorder = Recorder()
    study = study_with([PARAMS])

    def explode(*args, **kwargs):
        raise RuntimeError("the fit exploded")

    monkeypatch.setattr(obj, "run_trial", explode)
    study.optimize(make_objective(features, recorder), n_trials=1, catch=(Exception,))
    assert recorder.records[0].state == obj.FAILED
    assert "the fit exploded" in recorder.records[0].note
    assert study.trials[0].state == optuna.trial.TrialState.FAIL


def test_an_interrupted_trial_is_marked_so_a_resume_can_refit_it(features, monkeypatch):
    recorder = Recorder()
    study = study_with([PARAMS])

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(obj, "run_trial", interrupt)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(make_objective(features, recorder), n_trials=1)
    assert study.trials[0].user_attrs["state"] == obj.INTERRUPTED


def test_a_trial_fits_on_the_fit_sample_and_labels_every_customer(features):
    recorder = Recorder()
    objective = make_objective(features, recorder, outliers="none", scaler="log_standard")
    objective.fit_features = features.iloc[::3]
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    outcome = recorder.records[0].outcome
    assert len(outcome.labels) == len(features)
    assert len(outcome.pipeline[-1].labels_) == len(features.iloc[::3])


def test_a_trial_beyond_the_studys_budget_is_surplus_and_proposes_nothing(features):
    recorder = Recorder()
    study = study_with([PARAMS])
    objective = make_objective(features, recorder)
    study.optimize(objective, n_trials=1)
    study.optimize(dataclasses.replace(objective, budget=1), n_trials=1)
    surplus = study.trials[1]
    assert surplus.state == optuna.trial.TrialState.PRUNED
    assert surplus.user_attrs["state"] == obj.SURPLUS
    assert surplus.params == {}
    assert len(recorder.records) == 1  # no child run, no progress line


def test_the_hooks_have_a_finished_trial_before_optuna_does(features):
    class Inspector(TrialHooks):
        def finished(self, record):
            seen.append((study.trials[record.number].state, study.trials[record.number].user_attrs))

    seen = []
    study = study_with([PARAMS])
    study.optimize(make_objective(features, Inspector()), n_trials=1)
    ((state, attrs),) = seen
    assert state == optuna.trial.TrialState.RUNNING
    assert "state" not in attrs  # a dead process leaves no result behind unlogged
    assert study.trials[0].user_attrs["state"] == obj.COMPLETE


@pytest.mark.parametrize("k_written", [True, False], ids=["fitting", "still-drawing-its-choices"])
def test_a_configuration_another_process_is_fitting_is_waited_for_not_refitted(
    features, monkeypatch, tmp_path, k_written
):
    """A lower-numbered trial of another process with the same configuration is waited for,
    also while it has not written all its choices yet (each is a storage call)."""
    import threading

    recorder = Recorder()
    objective = make_objective(features, recorder)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(storage=storage, direction="maximize")
    study.enqueue_trial(PARAMS)
    elsewhere = study.ask()  # another process's trial, with the same configuration
    for group, choices in objective.space.choices.items():
        elsewhere.suggest_categorical(group, choices)
    if k_written:
        elsewhere.suggest_int("k", 3, 3)

    def finish_elsewhere():
        if not k_written:
            elsewhere.suggest_int("k", 3, 3)
        elsewhere.set_user_attr("metrics", {"silhouette": 0.42, "min_cluster_share": 0.3})
        elsewhere.set_user_attr("state", obj.COMPLETE)
        study.tell(elsewhere, 0.42)

    threading.Timer(0.6, finish_elsewhere).start()
    fits = []
    real = obj.run_trial
    monkeypatch.setattr(obj, "run_trial", lambda *a, **k: fits.append(1) or real(*a, **k))
    objective.poll_seconds = 0.05
    study.enqueue_trial(PARAMS)
    study.optimize(objective, n_trials=1)
    assert fits == []
    assert recorder.records[0].repeat_of == elsewhere.number
    assert study.trials[-1].value == pytest.approx(0.42)


def test_trials_sharing_an_outlier_step_fit_it_once_with_the_labels_of_a_fresh_fit(
    features, monkeypatch
):
    from sklearn.base import clone

    from src.model.transformers import IsolationForestFilter
    from src.result import Choice

    cfg = compose_config(
        "config",
        "sweep.k.low=3",
        "sweep.k.high=4",
        "sweep.search_space.outliers=[isolation_forest]",
        "sweep.search_space.scaler=[log_standard,robust]",
    )
    space = sweep_space(cfg)
    X = EvaluationSpace().fit_transform(features)
    obj.fit_cache().clear(warn=False)  # nothing fitted by earlier tests in this process
    forests = []
    real_fit = IsolationForestFilter.fit
    monkeypatch.setattr(
        IsolationForestFilter, "fit", lambda self, *a: forests.append(1) or real_fit(self, *a)
    )
    outcomes = [
        obj.run_trial(
            features,
            X,
            Choice.of({**PARAMS, "outliers": "isolation_forest", "scaler": scaler, "k": k}),
            space,
            10_000,
            0,
        )
        for scaler, k in [("log_standard", 3), ("robust", 3), ("log_standard", 4)]
    ]
    assert len(forests) == 1
    for outcome in outcomes:
        assert outcome.pipeline.memory is None
        fresh = clone(outcome.pipeline).fit(features)
        np.testing.assert_array_equal(fresh.predict(features), outcome.labels)

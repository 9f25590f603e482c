"""A trial's child run: written, with its params, metrics and end status, before the trial
returns, even while the artifacts of earlier trials are still being written."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from src.config import compose_config
from src.result import Choice
from src.sweep.objective import COMPLETE, TrialOutcome, TrialRecord
from src.sweep.space import sweep_space
from src.tracking.artifacts import TRIAL_PIPELINE, TRIAL_RADAR
from src.tracking.tracker import Tracker
from src.tracking.trials import TrialLogger
from src.viz.background import Background

CHOICE = Choice("none", "robust", "kmeans", 3)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    values = np.exp(np.vstack([rng.normal(m, 0.3, size=(30, 3)) for m in (1.0, 3.0, 5.0)]))
    return pd.DataFrame(values, columns=["recency_days", "frequency", "monetary"])


@pytest.fixture(scope="module")
def space():
    cfg = compose_config(
        "config",
        "sweep.k.low=2",
        "sweep.k.high=4",
        "sweep.search_space.outliers=[none]",
        "sweep.search_space.scaler=[robust]",
        "sweep.search_space.model=[kmeans]",
    )
    return sweep_space(cfg)


@pytest.fixture
def background():
    bg = Background(draw_in_process=False)
    yield bg
    bg.close()


def logger_for(tracking_uri, background, features, space, name, artifacts=False) -> TrialLogger:
    tracker = Tracker(tracking_uri, name)
    tracker.create_parent("sweep", {})
    return TrialLogger(tracker, background, features, space, artifacts, "study")


def complete(number: int, features, space) -> TrialRecord:
    pipeline = space.pipeline(CHOICE).fit(features)
    labels = np.asarray(pipeline.predict(features))
    outcome = TrialOutcome({"silhouette": 0.5}, labels, pipeline, [0.3, 0.3, 0.4])
    return TrialRecord(
        number, CHOICE, COMPLETE, {"silhouette": 0.5}, [0.3, 0.3, 0.4], outcome=outcome
    )


def test_a_trial_is_recorded_while_the_artifacts_thread_is_busy(
    tracking_uri, background, features, space
):
    logger = logger_for(tracking_uri, background, features, space, "busy-artifacts")
    release = threading.Event()
    background.write("earlier trial's artifacts", release.wait, 120)  # an upload that hangs
    record = complete(0, features, space)
    done = threading.Event()

    def run_trial():
        logger.started(0, CHOICE)
        logger.finished(record)
        done.set()

    threading.Thread(target=run_trial, daemon=True).start()
    recorded = done.wait(60)
    release.set()
    assert recorded, "the trial waited for the artifacts thread"
    run = logger.tracker.client.get_run(logger.run_ids[0])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["silhouette"] == 0.5
    assert run.data.params["model.n_clusters"] == "3"


def test_a_repeat_logs_the_parameters_of_its_configuration(
    tracking_uri, background, features, space
):
    logger = logger_for(tracking_uri, background, features, space, "repeats")
    for number in (0, 1):
        logger.started(number, CHOICE)
        logger.finished(TrialRecord(number, CHOICE, COMPLETE, {"silhouette": 0.5}, [], repeat_of=0))
    runs = [logger.tracker.client.get_run(logger.run_ids[n]) for n in (0, 1)]
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
    assert runs[0].data.params == runs[1].data.params
    assert runs[1].data.params["model.n_clusters"] == "3"
    assert runs[1].data.tags["repeat_of_trial"] == "1"


def test_the_artifacts_follow_the_record(tracking_uri, background, features, space):
    logger = logger_for(tracking_uri, background, features, space, "artifacts", artifacts=True)
    logger.started(0, CHOICE)
    logger.finished(complete(0, features, space))
    background.writer.submit(lambda: None).result()  # the artifact jobs queued before it ran
    assert not background.failures
    paths = {a.path for a in logger.tracker.client.list_artifacts(logger.run_ids[0])}
    assert {TRIAL_RADAR, TRIAL_PIPELINE} <= paths

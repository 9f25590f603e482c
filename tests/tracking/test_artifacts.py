"""A real sweep result logged to a temporary store: every path from the one table."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from src.result import FigureId
from src.tracking import artifacts
from src.tracking.tracker import Tracker


@pytest.fixture(scope="module")
def logged(sweep_result, tracking_uri):
    result = sweep_result[0]
    tracker = Tracker(tracking_uri, "artifact-test")
    with tracker.parent_run("artifact-test", {"experiment": "artifact-test"}) as run_id:
        artifacts.log_sweep_result(tracker, result)
    return result, run_id, MlflowClient(tracking_uri)


def listed(client, run_id, folder=None) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id, folder)}


def test_every_figure_is_logged_under_its_id(logged):
    result, run_id, client = logged
    files = listed(client, run_id, "figures")
    assert {artifacts.FIGURE.format(f.value) for f in result.figures} == files
    assert artifacts.FIGURE.format(FigureId.RADAR.value) in files


def test_tables_land_at_their_paths(logged):
    result, run_id, client = logged
    top = {
        p
        for folder in ("sweep", "curves", "segments", "insight")
        for p in listed(client, run_id, folder)
    }
    assert {artifacts.TRIALS_TABLE, artifacts.K_CURVE, artifacts.SEGMENT_PROFILES} <= top
    for name in result.insight.tables:
        assert artifacts.INSIGHT_TABLE.format(name) in top


def test_parent_metrics_carry_the_child_metric_names(logged):
    result, run_id, _ = logged
    metrics = mlflow.get_run(run_id).data.metrics
    assert metrics["silhouette"] == pytest.approx(result.metrics["silhouette"])
    assert not any(key.startswith("best.") for key in metrics)


def test_chosen_params_and_the_description(logged):
    result, run_id, _ = logged
    run = mlflow.get_run(run_id)
    assert run.data.params["chosen.k"] == str(result.choice.k)
    assert result.choice.describe() in run.data.tags["mlflow.note.content"]


def test_actions_are_written_as_text(logged):
    result, run_id, client = logged
    path = client.download_artifacts(run_id, artifacts.INSIGHT_TABLE.format("segment_actions"))
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    first = result.insight.actions["actions"].iloc[0]
    assert "; ".join(first) in text and "(" not in text.splitlines()[1][:2]

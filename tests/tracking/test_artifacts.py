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


def test_credentials_in_the_config_are_masked_in_params_and_the_config_artifact(tracking_uri):
    import pandas as pd

    token_url = "https://ana:tok3n@data.example.org/orders.csv"
    storage = "postgresql://optuna:pa55@127.0.0.1:5432/optuna"
    resolved = {"dataset": {"url": token_url}, "sweep": {"storage": storage}}
    yaml = f"dataset:\n  url: {token_url}\nsweep:\n  storage: {storage}\n"
    tracker = Tracker(tracking_uri, "masked")
    features = pd.DataFrame({"recency_days": [1.0, 2.0]})
    with tracker.parent_run("masked", {}) as run_id:
        artifacts.log_sweep_start(tracker, resolved, yaml, features, "shop", token_url, None)
    run = mlflow.get_run(run_id)
    assert run.data.params["dataset.url"] == "https://ana:***@data.example.org/orders.csv"
    assert run.data.params["sweep.storage"] == "postgresql://optuna:***@127.0.0.1:5432/optuna"
    text = mlflow.artifacts.load_text(f"runs:/{run_id}/{artifacts.RESOLVED_CONFIG}")
    assert "tok3n" not in text and "pa55" not in text and "ana:***@" in text
    assert all("tok3n" not in d.dataset.source for d in run.inputs.dataset_inputs)

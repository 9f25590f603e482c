"""The parent run's lifecycle and what may appear in logged text."""

from __future__ import annotations

import mlflow
import pytest

from src.tracking.tracker import Tracker, mask_credentials


@pytest.mark.parametrize(
    ("raised", "status"),
    [(None, "FINISHED"), (RuntimeError, "FAILED"), (KeyboardInterrupt, "KILLED")],
)
def test_the_parent_run_ends_with_what_happened(tracking_uri, raised, status):
    tracker = Tracker(tracking_uri, f"lifecycle-{status.lower()}")
    run_id = None
    try:
        with tracker.parent_run("run", {"a": 1}) as run_id:
            if raised is not None:
                raise raised
    except (RuntimeError, KeyboardInterrupt):
        pass
    assert mlflow.get_run(run_id).info.status == status


def test_an_existing_experiment_is_reused(tracking_uri):
    first = Tracker(tracking_uri, "reused").experiment_id
    assert Tracker(tracking_uri, "reused").experiment_id == first


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql://optuna:s3cret@127.0.0.1:5432/optuna",
            "postgresql://optuna:***@127.0.0.1:5432/optuna",
        ),
        ("https://user:token@example.org/data.csv", "https://user:***@example.org/data.csv"),
        ("sqlite:////tmp/optuna.db", "sqlite:////tmp/optuna.db"),
    ],
)
def test_credentials_are_masked(url, masked):
    assert mask_credentials(url) == masked

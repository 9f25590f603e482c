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


def test_the_dataset_schema_is_the_one_mlflow_would_infer():
    import numpy as np
    import pandas as pd
    from mlflow.types.utils import _infer_schema

    from src.tracking.tracker import table_schema

    n = 3000
    frame = pd.DataFrame(
        {
            "monetary": np.linspace(1.0, 9.0, n),
            "frequency": np.arange(n),
            "segment": [f"s{i % 4}" for i in range(n)],
        }
    )
    frame.loc[n - 1, "monetary"] = np.nan  # past the rows the types are read from
    with pytest.warns(UserWarning, match="integer column"):
        assert table_schema(frame) == _infer_schema(frame)


def test_a_logged_table_has_its_rows_and_schema(tracking_uri):
    import pandas as pd

    tracker = Tracker(tracking_uri, "inputs")
    frame = pd.DataFrame({"recency_days": [1.0, 2.0, None], "frequency": [1.0, 2.0, 3.0]})
    with tracker.parent_run("run", {}) as run_id:
        tracker.log_input(frame, name="shop", source="synthetic", digest="abc", context="training")
    (entry,) = mlflow.get_run(run_id).inputs.dataset_inputs
    assert '"num_rows": 3' in entry.dataset.profile
    assert '"recency_days", "required": false' in entry.dataset.schema

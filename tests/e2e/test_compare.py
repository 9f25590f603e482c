"""`python -m src.compare`: two registered versions, one dataset, one comparison run."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pandas as pd
import pytest

from src.config import PROJECT_ROOT, compose_config
from src.jobs import run_job

pytestmark = pytest.mark.slow

MODEL = "customer-segmentation"
TRAIN = [
    "dataset.n_customers=1000",
    "sweep.n_trials=1",
    "sweep.stability_bootstraps=0",
    "sweep.log_trial_artifacts=false",
    "sweep.search_space.outliers=[none]",
    "sweep.search_space.scaler=[log_standard]",
    "sweep.search_space.model=[kmeans]",
]


@pytest.fixture(scope="module")
def versions(tracking_uri):
    """Version 1 with six segments, version 2 with four, on the same data."""
    for k in (6, 4):
        run_job(
            compose_config(
                "config", "+experiment=lrfmc", *TRAIN, f"sweep.k.low={k}", f"sweep.k.high={k}"
            )
        )
    return tracking_uri


def run_compare(uri: str, out, *args: str):
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "src.compare",
            f"model_a=models:/{MODEL}/1",
            f"model_b=models:/{MODEL}/2",
            f"output_dir={out}",
            *args,
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_compare_reports_agreement_mapping_and_metric_differences(versions, tmp_path):
    proc = run_compare(versions, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{MODEL} v1 vs {MODEL} v2" in proc.stdout
    assert "adjusted Rand index" in proc.stdout
    mapping = pd.read_csv(tmp_path / "segment_mapping.csv", index_col=0)
    assert len(mapping) == 6 and "best match in B" in mapping
    metrics = pd.read_csv(tmp_path / "metric_differences.csv", index_col=0)
    assert metrics.loc["n_clusters", "B - A"] == -2

    run_id = proc.stdout.split("logged to MLflow run ")[1].split()[0]
    run = mlflow.get_run(run_id)
    assert 0 < run.data.metrics["adjusted_rand_index"] < 1
    assert run.data.tags["model_b_version"] == f"{MODEL} v2"


def test_comparing_a_model_with_itself_is_refused_with_one_line(versions, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "src.compare",
            f"model_a=models:/{MODEL}/1",
            f"model_b=models:/{MODEL}/1",
            f"output_dir={tmp_path}",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": versions},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "two different models" in proc.stderr

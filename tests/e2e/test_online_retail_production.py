"""The README's production command on the real UCI file scores the training customers exactly
as they were segmented in training, because the model carries its data contract."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from src.config import PROJECT_ROOT, compose_config
from src.jobs import run_job

pytestmark = [pytest.mark.slow, pytest.mark.real_data]

MODEL = "online-retail-segmentation"


@pytest.fixture(scope="module")
def trained(online_retail_path, tracking_uri):
    cfg = compose_config(
        "config",
        "+experiment=online_retail_rfm",
        f"dataset.path={online_retail_path}",
        "sweep.n_trials=3",
        "sweep.refine_k=false",
        "sweep.stability_bootstraps=0",
        "sweep.log_trial_artifacts=false",
    )
    return run_job(cfg), tracking_uri


def test_predict_with_the_contract_scores_the_training_customers_alike(trained, tmp_path):
    run, uri = trained
    out = tmp_path / "segments.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "src.predict",
            "dataset=online_retail",
            f"model_uri=models:/{MODEL}@champion",
            f"output={out}",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning" not in proc.stdout
    scored = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    training = run.result.assignments
    assert len(scored) == len(training) == 4338
    pd.testing.assert_series_equal(
        scored["segment_id"].sort_index(),
        training["segment_id"].sort_index(),
        check_index_type=False,
        check_names=False,
    )

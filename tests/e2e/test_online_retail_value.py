"""``+experiment=online_retail_value`` on the real UCI file: the holdout error and calibration
figure are logged, the value tables are in the report and on every card, and the CRM export of
``src.predict`` adds P(alive), expected purchases and lifetime value."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from src.config import PROJECT_ROOT, compose_config
from src.jobs import run_job
from src.tracking import artifacts

pytest.importorskip("pymc_marketing")

pytestmark = [pytest.mark.slow, pytest.mark.real_data]

MODEL = "online-retail-value-segmentation"


@pytest.fixture(scope="module")
def trained(online_retail_path, tracking_uri, tmp_path_factory):
    report = tmp_path_factory.mktemp("report") / "report.html"
    cfg = compose_config(
        "config",
        "+experiment=online_retail_value",
        f"dataset.path={online_retail_path}",
        "sweep.n_trials=3",
        "sweep.refine_k=false",
        "sweep.stability_bootstraps=0",
        "sweep.log_trial_artifacts=false",
        f"report.path={report}",
    )
    return run_job(cfg), tracking_uri, report


def test_the_holdout_errors_and_value_totals_are_logged(trained):
    run, uri, _ = trained
    metrics = MlflowClient(uri).get_run(run.parent_run_id).data.metrics
    assert metrics["value.holdout.days"] == 91  # 2011-09-10 .. 2011-12-10
    assert 0 < metrics["value.holdout.mae"] < metrics["value.holdout.baseline_mae"]
    assert np.isfinite(metrics["value.holdout.aggregate_error"])
    assert metrics["value.customers"] == 4338
    assert metrics["value.clv_total"] > 0


def test_the_value_tables_and_figures_are_artifacts(trained, tmp_path):
    run, uri, _ = trained
    client = MlflowClient(uri)
    logged = {
        a.path
        for folder in ("value", "figures")
        for a in client.list_artifacts(run.parent_run_id, folder)
    }
    for path in (
        artifacts.VALUE_SEGMENTS,
        artifacts.VALUE_CUSTOMERS,
        artifacts.VALUE_PARAMS,
        artifacts.VALUE_CALIBRATION,
        "figures/value_calibration.png",
        "figures/value_p_alive.png",
        "figures/value_by_segment.png",
    ):
        assert path in logged
    local = client.download_artifacts(run.parent_run_id, artifacts.VALUE_SEGMENTS, str(tmp_path))
    table = pd.read_csv(local, index_col=0)
    assert table["customers"].sum() == 4338
    assert set(table["segment_name"]) == set(run.result.names.values())


def test_the_report_shows_value_on_every_card_and_in_its_own_section(trained):
    run, _, report = trained
    html = report.read_text(encoding="utf-8")
    assert "What the segments are worth" in html
    assert "Can it be trusted? A holdout of 91 days" in html
    assert html.count("P(alive) ") >= run.result.n_segments
    assert html.count('class="card"') == run.result.n_segments


def test_the_model_carries_the_value_parameters_as_plain_data(trained):
    run, _, _ = trained
    state = run.result.model.to_state()
    restored = json.loads(json.dumps(state))["value_model"]
    assert set(restored["params"]["transactions"]) == {"r", "alpha", "a", "b"}
    assert restored["settings"]["purchase_days"] == 90


def test_the_crm_export_adds_p_alive_purchases_and_clv(trained, tmp_path):
    run, uri, _ = trained
    out = tmp_path / "segments.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "src.predict",
            f"model_uri=models:/{MODEL}@champion",
            f"output={out}",
            "log_to_mlflow=false",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    scored = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    trained_value = run.result.lifetime_value.customers
    assert len(scored) == 4338
    np.testing.assert_allclose(
        scored["p_alive"].sort_index(), trained_value["p_alive"].sort_index(), rtol=1e-6
    )
    np.testing.assert_allclose(
        scored["clv_12m"].sort_index(), trained_value["clv"].sort_index(), rtol=1e-6
    )
    assert "expected_purchases_90d" in scored.columns

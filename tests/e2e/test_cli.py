"""Bad input on the command line: one clear paragraph, a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from src.config import PROJECT_ROOT


@pytest.fixture
def run_cli(tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}

    def run(module: str, *args: str):
        return subprocess.run(
            [sys.executable, "-m", module, f"hydra.run.dir={tmp_path / 'out'}", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    return run


@pytest.fixture
def no_discount_log(tmp_path):
    path = tmp_path / "orders.csv"
    pd.DataFrame(
        {
            "client": ["a", "a", "b", "c"],
            "day": ["20240101", "20240201", "20240115", "20240120"],
            "order": ["1", "2", "3", "4"],
            "qty": [1, 2, 1, 5],
            "price": [10.0, 5.0, 7.5, 2.0],
        }
    ).to_csv(path, index=False)
    return path


def assert_user_error(proc, *fragments: str):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def test_missing_file_names_the_path_and_the_override(run_cli, tmp_path):
    missing = tmp_path / "nope" / "online_retail.csv.gz"
    proc = run_cli("src.run", "dataset=online_retail", f"dataset.path={missing}")
    assert_user_error(proc, str(missing), "dataset.path")


def test_unknown_sweep_option_lists_the_valid_choices(run_cli):
    proc = run_cli("src.run", "sweep.search_space.scaler=[log_standard,zscore]")
    assert_user_error(proc, "zscore", "robust", "quantile")


def test_unknown_feature_set_lists_the_valid_ones(run_cli):
    proc = run_cli("src.run", "features=lrfm")
    assert_user_error(proc, "lrfmc", "rfm")


def test_lrfmc_without_discount_data_says_what_is_missing(run_cli, no_discount_log):
    proc = run_cli(
        "src.run",
        "features=lrfmc",
        "dataset=transactions",
        f"dataset.path={no_discount_log}",
        "dataset.columns.customer_id=client",
        "dataset.columns.invoice_date=day",
        "dataset.columns.invoice_id=order",
        "dataset.columns.quantity=qty",
        "dataset.columns.unit_price=price",
        "dataset.date_format=%Y%m%d",
    )
    assert_user_error(proc, "discount", "features=rfm")


def test_misspelt_column_is_named_with_the_columns_found(run_cli, no_discount_log):
    proc = run_cli(
        "src.run",
        "dataset=transactions",
        f"dataset.path={no_discount_log}",
        "dataset.columns.customer_id=clinet",
        "dataset.columns.invoice_date=day",
        "dataset.columns.invoice_id=order",
        "dataset.columns.quantity=qty",
        "dataset.columns.unit_price=price",
    )
    assert_user_error(proc, "clinet", "client")


def test_predict_with_an_unknown_model_explains_how_to_get_one(run_cli):
    proc = run_cli("src.predict", "model_uri=models:/no-such-model@champion")
    assert_user_error(proc, "no-such-model", "src.run")


def test_predict_rejects_an_unknown_output_format(run_cli):
    proc = run_cli("src.predict", "output=segments.xlsx", "model_uri=models:/x@champion")
    assert_user_error(proc, "segments.xlsx", ".parquet")


def test_migrate_without_before_names_the_option(run_cli):
    proc = run_cli("src.migrate", "model_uri=models:/x@champion")
    assert proc.returncode == 2, proc.stderr
    assert_user_error(proc, "before is required", "before=...")


def test_migrate_with_an_impossible_before_date_names_it_before_loading_a_model(run_cli):
    proc = run_cli("src.migrate", "before=2024-13-01", "model_uri=models:/no-such-model@champion")
    assert proc.returncode == 2, proc.stderr
    assert_user_error(proc, "before='2024-13-01' is not a date", "YYYY-MM-DD")


def test_predict_on_a_corrupt_store_names_the_file(run_cli, tmp_path):
    db = tmp_path / "mlflow.db"  # the store run_cli points MLFLOW_TRACKING_URI at
    db.write_bytes(b"not a database" * 100)
    proc = run_cli("src.predict", f"output={tmp_path / 'segments.csv'}")
    assert proc.returncode == 2, proc.stderr
    assert_user_error(proc, f"The MLflow store {db} is not a SQLite database", "mv ")


def test_help_answers_without_importing_mlflow_or_optuna(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "src.run", "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert "mlflow" not in imported and "optuna" not in imported and "sklearn" not in imported


@pytest.mark.slow
def test_a_multirun_over_a_group_runs_each_choice(tmp_path):
    """`-m scaler=standard,robust`: two sweeps, one per scaler, each registered on its own."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "src.run",
            "-m",
            "+experiment=rfm",
            "scaler=standard,robust",
            "dataset.n_customers=600",
            "sweep.n_trials=2",
            "sweep.refine_k=false",
            "sweep.stability_bootstraps=0",
            "sweep.log_trial_artifacts=false",
            "sweep.k.low=3",
            "sweep.k.high=4",
            f"hydra.sweep.dir={tmp_path / 'multirun'}",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["rfm"])
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert sorted(parents["params.chosen.scaler"]) == ["robust", "standard"]
    trials = runs[runs["tags.mlflow.parentRunId"].notna()]
    for parent_id, scaler in parents[["run_id", "params.chosen.scaler"]].itertuples(index=False):
        own = trials[trials["tags.mlflow.parentRunId"] == parent_id]
        assert set(own["params.scaler"]) == {scaler}


def test_a_group_and_its_search_space_together_are_refused(run_cli):
    proc = run_cli("src.run", "scaler=standard", "sweep.search_space.scaler=[robust]")
    assert_user_error(proc, "scaler=standard", "sweep.search_space.scaler")
    assert proc.returncode == 2

"""Production use of a registered champion: batch scoring, REST serving, migration, MLproject."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from src.config import PROJECT_ROOT, compose_config
from src.jobs import run_job
from src.mlproject import hydra_args

pytestmark = pytest.mark.slow

MODEL = "customer-segmentation"
DATA = ["dataset.n_customers=1200"]
TRAIN = [
    *DATA,
    "sweep.n_trials=2",
    "sweep.stability_bootstraps=0",
    "sweep.log_trial_artifacts=false",
    "sweep.k.low=6",
    "sweep.k.high=6",
    "sweep.search_space.outliers=[none]",
    "sweep.search_space.scaler=[log_standard]",
    "sweep.search_space.model=[kmeans]",
]


def compose_cfg(config: str, *overrides: str):
    return compose_config(config, *overrides)


@pytest.fixture(scope="module")
def trained(tracking_uri):
    run = run_job(compose_cfg("config", "+experiment=lrfmc", *TRAIN))
    return {"uri": tracking_uri, "result": run.result}


def venv_env(uri: str) -> dict[str, str]:
    """The venv's bin first on PATH: `mlflow run` and `mlflow models serve` exec from PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path}


def cli(*args: str, uri: str, cwd: Path = PROJECT_ROOT, timeout: int = 300):
    env = venv_env(uri)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, payload: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_batch_scoring_cli_applies_the_models_data_contract(trained, tmp_path):
    """No dataset or cleaning given: the training data, cleaned as in training, scores alike."""
    out = tmp_path / "segments.parquet"
    proc = cli("-m", "src.predict", f"output={out}", uri=trained["uri"])
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stdout
    scored = pd.read_parquet(out).set_index("customer_id")
    result = trained["result"]
    expected = result.model.predict(result.features)
    assert list(scored.columns[:3]) == ["segment_id", "segment_name", "recommended_actions"]
    assert {*result.features.columns, "snapshot_date", "model_name", "model_version"} <= set(
        scored.columns
    )
    assert set(scored["model_name"]) == {MODEL}
    assert set(scored["model_version"]) == {"1"}
    assert scored["recommended_actions"].str.len().gt(0).all()
    assert len(scored) == len(expected)
    pd.testing.assert_series_equal(
        scored["segment_id"].sort_index(),
        expected["segment_id"].rename_axis("customer_id").sort_index(),
        check_index_type=False,
    )


def test_batch_scoring_warns_when_told_to_clean_differently(trained, tmp_path):
    out = tmp_path / "segments.csv"
    proc = cli("-m", "src.predict", "cleaning=classic", f"output={out}", uri=trained["uri"])
    assert proc.returncode == 0, proc.stderr
    assert "warning: cleaning differs" in proc.stdout
    runs = mlflow.search_runs(experiment_names=["segment-scoring"])
    assert runs["tags.contract_warnings"].str.contains("cleaning differs").any()


def test_batch_scoring_logs_the_batch_as_inference_input(trained, tmp_path):
    out = tmp_path / "segments.csv"
    proc = cli("-m", "src.predict", f"output={out}", uri=trained["uri"])
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split("Logged to MLflow run ")[1].split()[0]
    inputs = mlflow.get_run(run_id).inputs.dataset_inputs
    assert [t.value for i in inputs for t in i.tags if t.key == "mlflow.data.context"] == [
        "inference"
    ]


def test_batch_scoring_writes_product_recommendations_on_request(trained, tmp_path):
    out = tmp_path / "segments.csv"
    proc = cli("-m", "src.predict", f"output={out}", "recommendations=3", uri=trained["uri"])
    assert proc.returncode == 0, proc.stderr
    recs = pd.read_csv(tmp_path / "segments_recommendations.csv")
    assert recs.groupby("customer_id").size().max() <= 3
    assert {"customer_id", "stock_code"} <= set(recs.columns)


def test_mlflow_models_serve_scores_and_rejects_bad_payloads(trained, tmp_path):
    port = free_port()
    env = venv_env(trained["uri"])
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            f"models:/{MODEL}@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.5)
        features = trained["result"].features.head(4)
        payload = {
            "dataframe_split": {
                "columns": ["customer_id", *features.columns],
                "data": features.reset_index().to_numpy().tolist(),
            }
        }
        status, body = post(f"{base}/invocations", payload)
        assert status == 200, body
        served = pd.DataFrame(body["predictions"])
        local = trained["result"].model.predict(features)
        assert served["segment_id"].tolist() == local["segment_id"].tolist()
        assert served["segment_name"].tolist() == local["segment_name"].tolist()

        missing = {"dataframe_split": {"columns": ["recency_days"], "data": [[3.0]]}}
        status, body = post(f"{base}/invocations", missing)
        assert status == 400
        assert "frequency" in json.dumps(body)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def test_migration_rows_add_up_to_customers_present_at_both_dates(trained):
    from src.data.contract import DataContract
    from src.data.prepare import features_at, load_clean
    from src.jobs.migrate import migrate

    cfg = compose_cfg("migrate", "before=2024-06-30")
    result = migrate(cfg)
    contract = DataContract.from_dict(trained["result"].model.contract)
    dataset, _, _ = load_clean(contract.dataset, contract.cleaning)
    early, _ = features_at(dataset, contract.features, "2024-06-30")
    both = early.index.intersection(trained["result"].features.index)
    assert int(result.counts.to_numpy().sum()) == len(both)
    shares = result.shares.dropna(how="all")
    assert (shares.sum(axis=1) - 1).abs().max() < 1e-9


def test_migration_cli_writes_matrix_and_figure(trained, tmp_path):
    proc = cli(
        "-m",
        "src.migrate",
        "before=2024-03-31",
        f"output_dir={tmp_path}",
        uri=trained["uri"],
    )
    assert proc.returncode == 0, proc.stderr
    assert "kept their segment" in proc.stdout
    counts = pd.read_csv(next(tmp_path.glob("*_counts.csv")), index_col=0)
    assert counts.shape[0] == counts.shape[1]
    assert next(tmp_path.glob("*.png")).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["sweep.n_trials=5 seed=1"], ["sweep.n_trials=5", "seed=1"]),
        ([""], []),
        (["a=1", "", "b='x y'"], ["a=1", "b=x y"]),
    ],
)
def test_mlproject_splits_quoted_overrides(raw, expected):
    assert hydra_args(raw) == expected


def test_mlflow_run_main_entry_point_works_offline(trained, tmp_path):
    overrides = " ".join(
        [*TRAIN, "experiment_name=mlproject", "mlflow.register=false", f"hydra.run.dir={tmp_path}"]
    )
    # From a scratch folder: `mlflow run` puts a new experiment's artifacts under ./mlruns.
    command = ["-m", "mlflow", "run", str(PROJECT_ROOT), "-e", "main", "--env-manager", "local"]
    proc = cli(
        *command,
        "--experiment-name",
        "mlproject",
        "-P",
        "experiment=lrfmc",
        "-P",
        f"overrides={overrides}",
        uri=trained["uri"],
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = mlflow.search_runs(experiment_names=["mlproject"])
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parents) == 1 and parents["status"].iloc[0] == "FINISHED"
    # TRAIN's search space holds one configuration: one trial, however many are asked for.
    assert (runs["tags.mlflow.parentRunId"] == parents["run_id"].iloc[0]).sum() == 1


def test_mlflow_run_lands_in_the_experiments_own_mlflow_experiment(trained, tmp_path):
    """Without --experiment-name, `mlflow run` starts its run in "Default"; the sweep still
    goes to the experiment it is named after, and the two runs point at each other."""
    overrides = " ".join(
        [
            *TRAIN,
            "experiment_name=named_by_config",
            "mlflow.register=false",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    command = ["-m", "mlflow", "run", str(PROJECT_ROOT), "-e", "main", "--env-manager", "local"]
    proc = cli(
        *command,
        "-P",
        "experiment=lrfmc",
        "-P",
        f"overrides={overrides}",
        uri=trained["uri"],
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = mlflow.search_runs(experiment_names=["named_by_config"])
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parents) == 1 and parents["status"].iloc[0] == "FINISHED"
    project_run = parents["tags.mlflow_project_run_id"].iloc[0]
    assert mlflow.get_run(project_run).data.tags["sweep_parent_run_id"] == parents["run_id"].iloc[0]

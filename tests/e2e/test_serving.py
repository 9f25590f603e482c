"""The REST server validates its input, and models registered before the package move still load.

Both against temporary stores: a champion logged by today's `serving.log_model` and served by
`mlflow models serve` on a free loopback port (stopped by PID), and a champion that the last
pre-move commit's own code trained and registered in a subprocess.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from src.config import PROJECT_ROOT, compose_config
from src.model.pipeline import build_pipeline
from src.tracking.serving import load_segmentation_model
from src.tracking.tracker import _activate_experiment

pytestmark = pytest.mark.slow

PRE_MOVE_COMMIT = "b9a773a"
FEATURES = ["length_days", "recency_days", "frequency", "monetary", "discount_rate"]
MODEL = "rest-segmentation"


def venv_env(uri: str) -> dict[str, str]:
    """The venv's bin first on PATH: `mlflow models serve` execs uvicorn from there."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: str) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def split_payload(rows: list[list], columns: list[str] | None = None) -> str:
    """JSON as a client writes it; Python's json writes NaN and Infinity literally."""
    columns = columns or ["customer_id", *FEATURES]
    return json.dumps({"dataframe_split": {"columns": columns, "data": rows}})


@contextmanager
def using_store(uri: str):
    """This process talks to `uri` (env and mlflow), then to the store it used before."""
    before_env = os.environ.get("MLFLOW_TRACKING_URI")
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # the fluent API remembers the last active experiment id, which belongs to another store
    _activate_experiment("0")
    try:
        yield
    finally:
        if before_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before_env
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])


GOOD = [[17850, 700, 5, 25, 4200, 0.1], [12583, 400, 300, 2, 90, 0]]


@pytest.fixture(scope="module")
def champion(tracking_uri, tmp_path_factory):
    """The synthetic shop's customers segmented by a 5-means LRFMC model, registered @champion
    through the same log_model call the sweep job makes."""
    from omegaconf import OmegaConf

    from src.data.prepare import prepare_data
    from src.model.segmentation import SegmentationModel
    from src.tracking import serving

    cfg = compose_config("config", "+experiment=lrfmc", "dataset.n_customers=1000")
    data = prepare_data(
        OmegaConf.to_object(cfg.dataset),
        OmegaConf.to_object(cfg.cleaning),
        OmegaConf.to_object(cfg.features),
        None,
    )
    pipeline = build_pipeline(
        {"_target_": "sklearn.preprocessing.FunctionTransformer"},
        {"_target_": "src.model.transformers.LogStandardScaler"},
        {"_target_": "sklearn.cluster.KMeans", "n_init": 3, "random_state": 0},
        5,
    )
    model = SegmentationModel(pipeline, list(data.features.columns)).fit(data.features)
    artifacts = tmp_path_factory.mktemp("artifacts").as_uri()
    with mlflow.start_run(experiment_id=mlflow.create_experiment("rest", artifacts)):
        version = mlflow.register_model(serving.log_model(model), MODEL)
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version.version)
    return model


@pytest.fixture(scope="module")
def server(champion, tracking_uri, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    log = log_path.open("w")
    command = [sys.executable, "-m", "mlflow", "models", "serve"]
    command += ["-m", f"models:/{MODEL}@champion", "--env-manager", "local"]
    proc = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        env=venv_env(tracking_uri),
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
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.5)
        yield f"{base}/invocations"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def test_rest_scores_integer_ids_and_features_and_returns_the_ids_as_given(server, champion):
    status, body = post(server, split_payload(GOOD))
    assert status == 200, body
    served = pd.DataFrame(body["predictions"])
    assert served["customer_id"].tolist() == [17850, 12583]
    local = champion.predict(pd.DataFrame(GOOD, columns=["customer_id", *FEATURES]))
    assert served["segment_name"].tolist() == local["segment_name"].tolist()


def test_rest_returns_text_ids_as_text(server):
    rows = [["c1", *GOOD[0][1:]], ["c2", *GOOD[1][1:]]]
    status, body = post(server, split_payload(rows))
    assert status == 200, body
    assert [p["customer_id"] for p in body["predictions"]] == ["c1", "c2"]


def with_value(column: str, value) -> list[list]:
    """GOOD with customer 12583's value of `column` replaced."""
    rows = [list(r) for r in GOOD]
    rows[1][["customer_id", *FEATURES].index(column)] = value
    return rows


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (with_value("recency_days", -3), "recency_days must be a whole number >= 0"),
        (with_value("recency_days", 2.5), "recency_days must be a whole number >= 0"),
        (with_value("frequency", 0), "frequency must be a finite number >= 1"),
        (with_value("discount_rate", 3), "discount_rate must be a finite number in [0, 1]"),
        (with_value("length_days", 10), "length_days must be >= recency_days"),
        (with_value("monetary", None), "monetary is missing (null or NaN)"),
        (with_value("monetary", math.nan), "monetary is missing (null or NaN)"),
        (with_value("monetary", math.inf), "monetary is infinite"),
        (with_value("frequency", "often"), "frequency is not a number"),
        (with_value("customer_id", None), "customer_id is missing"),
    ],
)
def test_rest_rejects_a_bad_row_with_400_naming_column_rule_and_row(server, rows, expected):
    status, body = post(server, split_payload(rows))
    assert status == 400
    assert expected in body["message"]
    if "customer_id is missing" not in expected:
        assert "customer_id 12583" in body["message"]
        assert "17850" not in body["message"].split("Error:")[-1]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (split_payload([]), "no rows"),
        (split_payload([[3]], columns=["recency_days"]), "frequency"),
    ],
)
def test_rest_rejects_empty_or_incomplete_input_with_the_reason(server, payload, expected):
    status, body = post(server, payload)
    assert status == 400
    assert expected in body["message"]


@pytest.mark.parametrize(
    "rows", [with_value("monetary", math.nan), with_value("recency_days", -1), []]
)
def test_rest_errors_carry_no_stack_trace_or_server_paths(server, rows):
    status, body = post(server, split_payload(rows))
    assert status == 400
    text = json.dumps(body)
    assert "stack_trace" not in body and "Traceback" not in text
    assert str(PROJECT_ROOT) not in text and "site-packages" not in text


# ---- models registered before the package move ---------------------------------------------
PRE_MOVE_TRAIN = [
    "+experiment=rfm",
    "sweep.n_trials=2",
    "dataset.n_customers=800",
    "sweep.refine_k=false",
    "sweep.stability_bootstraps=0",
    "sweep.log_trial_artifacts=false",
    "sweep.k.low=4",
    "sweep.k.high=4",
    # The project's own estimators, so the pickle names src.transformers / src.clusterers.
    "sweep.search_space.outliers=[iqr_clip]",
    "sweep.search_space.scaler=[log_standard]",
    "sweep.search_space.model=[agglomerative]",
]
PRE_MOVE_MODEL = "models:/customer-segmentation-rfm@champion"


@pytest.fixture(scope="module")
def pre_move_store(tmp_path_factory):
    """A store whose champion the pre-move code (`git archive b9a773a src conf`) registered."""
    archive = subprocess.run(
        ["git", "archive", PRE_MOVE_COMMIT, "src", "conf"],
        cwd=PROJECT_ROOT,
        capture_output=True,
    )
    if archive.returncode != 0:
        pytest.fail(
            f"commit {PRE_MOVE_COMMIT} is not in this clone ({archive.stderr.decode().strip()}); "
            "the legacy-model test needs the project's history (a full clone)."
        )
    old = tmp_path_factory.mktemp("pre_move")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(old, filter="data")
    uri = f"sqlite:///{old / 'mlflow.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "src.run", *PRE_MOVE_TRAIN],
        cwd=old,
        env=venv_env(uri),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (old / "src" / "pipeline.py").is_file()  # the old layout really ran
    return uri


def test_a_pre_move_champion_scores_as_it_did_when_it_was_trained(pre_move_store):
    from src.data.contract import DataContract
    from src.data.prepare import prepare_data

    with using_store(pre_move_store):
        model = load_segmentation_model(PRE_MOVE_MODEL)
        run_id = (
            mlflow.MlflowClient()
            .get_model_version_by_alias("customer-segmentation-rfm", "champion")
            .run_id
        )
        at_training = pd.read_csv(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="segments/customer_segments.csv"
            ),
            index_col="customer_id",
        )
    steps = [type(step).__module__ for _, step in model.pipeline.steps]
    assert steps == ["src.model.transformers", "src.model.transformers", "src.model.clusterers"]
    contract = DataContract.from_dict(model.contract)
    data = prepare_data(contract.dataset, contract.cleaning, contract.features, None)
    scored = model.predict(data.features)
    assert len(scored) == len(at_training) == 800
    pd.testing.assert_series_equal(
        scored["segment_name"].loc[at_training.index].astype(object),
        at_training["segment_name"].astype(object),
        check_index_type=False,
    )


def test_batch_scoring_cli_scores_a_pre_move_champion(pre_move_store, tmp_path):
    out = tmp_path / "segments.csv"
    proc = subprocess.run(
        # No dataset given: the contract rebuilt from the training run says 800 customers.
        [sys.executable, "-m", "src.predict", f"model_uri={PRE_MOVE_MODEL}", f"output={out}"],
        cwd=PROJECT_ROOT,
        env=venv_env(pre_move_store),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(out)) == 800


def test_batch_scoring_cli_refuses_a_model_that_is_not_a_segmentation_model(tracking_uri, tmp_path):
    from sklearn.cluster import KMeans

    with using_store(tracking_uri), mlflow.start_run():
        mlflow.sklearn.log_model(
            KMeans(2, n_init=1).fit([[0.0], [1.0], [5.0]]),
            name="kmeans",
            registered_model_name="some-kmeans",
            pip_requirements=["scikit-learn"],  # no dependency inference subprocess
        )
    proc = subprocess.run(
        [sys.executable, "-m", "src.predict", "model_uri=models:/some-kmeans/1"]
        + [f"output={tmp_path / 'out.csv'}"],
        cwd=PROJECT_ROOT,
        env=venv_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 2
    assert "is not a segmentation model" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0

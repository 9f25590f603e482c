"""The logged model: models-from-code, no pickles, provenance, and loading it back safely."""

import json
import os
import shutil
import sys
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline

from src.config import PROJECT_ROOT
from src.errors import SegmentationError
from src.model.segmentation import MODEL_FORMAT, SegmentationModel
from src.model.transformers import LogStandardScaler
from src.tracking import serving

FEATURES = ["length_days", "recency_days", "frequency", "monetary", "discount_rate"]


def lrfmc_features(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 3, n)
    recency = rng.integers(0, 200, n) + 150 * (2 - level)
    return pd.DataFrame(
        {
            "length_days": recency + rng.integers(0, 600, n),
            "recency_days": recency,
            "frequency": 1 + rng.poisson(2 + 6 * level),
            "monetary": rng.lognormal(4 + level, 0.4),
            "discount_rate": rng.uniform(0, 1, n).round(2),
        },
        index=pd.Index([f"C{i:04d}" for i in range(n)], name="customer_id"),
    )


@pytest.fixture(scope="module")
def features():
    return lrfmc_features()


@pytest.fixture(scope="module")
def model(features):
    pipeline = Pipeline(
        [("scaler", LogStandardScaler()), ("model", KMeans(3, n_init=3, random_state=0))]
    )
    fitted = SegmentationModel(pipeline, FEATURES).fit(features)
    fitted.segment_names = {0: "Champions", 1: "Loyal", 2: "Lost"}
    fitted.contract = {"features": {"name": "lrfmc"}, "fingerprint": "abc"}
    return fitted


@pytest.fixture(scope="module")
def store(tracking_uri, tmp_path_factory):
    """The module's tmp store, with artifacts in a tmp folder (not ./mlruns)."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("serving", artifacts.as_uri()))
    return tracking_uri


@pytest.fixture(scope="module")
def logged(store, model):
    with mlflow.start_run():
        return serving.log_model(model)


@pytest.fixture(scope="module")
def local_copy(logged, tmp_path_factory):
    return Path(mlflow.artifacts.download_artifacts(logged, dst_path=tmp_path_factory.mktemp("m")))


def int_customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [17850, 12583],
            "length_days": [700, 400],
            "recency_days": [5, 300],
            "frequency": [25, 2],
            "monetary": [4200, 90],
            "discount_rate": [0, 0],
        }
    )


def test_the_loader_gives_back_the_model_that_was_logged(logged, model, features):
    loaded = serving.load_segmentation_model(logged)
    pd.testing.assert_frame_equal(loaded.predict(features), model.predict(features))
    assert loaded.contract == model.contract


def test_logged_model_is_models_from_code_with_no_pickle(local_copy):
    pyfunc = yaml.safe_load((local_copy / "MLmodel").read_text())["flavors"]["python_function"]
    assert Path(pyfunc["model_code_path"]).name == "pyfunc_model.py"
    assert "python_model" not in pyfunc  # no cloudpickled PythonModel instance
    files = {p.suffix for p in local_copy.rglob("*") if p.is_file()}
    assert not files & {".pkl", ".pickle", ".joblib", ".cloudpickle"}
    assert (local_copy / "code" / "src" / "model" / "segmentation.py").is_file()


def test_logged_model_has_a_meaningful_name_and_provenance_tags(logged):
    logged_model = mlflow.get_logged_model(logged.removeprefix("models:/"))
    assert logged_model.name == serving.MODEL_NAME == "segmentation_model"
    tags = logged_model.tags
    assert tags[serving.TAG_PROJECT] == serving.PROJECT
    assert tags[serving.TAG_MODEL_FORMAT] == str(MODEL_FORMAT)
    assert tags[serving.TAG_GIT_COMMIT]


def test_input_example_holds_made_up_customers_not_training_ones(local_copy, features):
    example = json.loads((local_copy / "input_example.json").read_text())
    ids = [row[example["columns"].index("customer_id")] for row in example["data"]]
    assert ids == serving.EXAMPLE_CUSTOMERS["customer_id"]
    assert not set(ids) & set(features.index)
    assert example["columns"][1:] == FEATURES


def test_pyfunc_scores_integer_ids_and_integer_features(logged, model):
    with serving.own_sys_path():
        pyfunc = mlflow.pyfunc.load_model(logged)
    out = pyfunc.predict(int_customers())
    assert out["customer_id"].tolist() == [17850, 12583]
    assert out["customer_id"].dtype == "int64"
    expected = model.predict(int_customers().astype({"monetary": float}))
    assert out["segment_name"].tolist() == expected["segment_name"].tolist()


def test_pyfunc_rejects_an_out_of_range_row_as_a_bad_request(logged):
    with serving.own_sys_path():
        pyfunc = mlflow.pyfunc.load_model(logged)
    with pytest.raises(MlflowException) as info:
        pyfunc.predict(int_customers().assign(frequency=[0, 2]))
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "frequency must be a finite number >= 1" in info.value.message
    assert "customer_id 17850" in info.value.message


def test_loading_never_puts_the_bundled_src_ahead_of_ours(logged, store, model):
    path_before = list(sys.path)
    serving.load_segmentation_model(logged)
    with mlflow.start_run():
        serving.log_model(model)  # MLflow loads the model once to check its input example
    assert sys.path == path_before
    ours = str(PROJECT_ROOT / "src")
    shadowed = [
        name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] == "src"
        and not str(getattr(module, "__file__", ours)).startswith(ours)
    ]
    assert shadowed == []


def test_in_process_pyfunc_serves_our_own_classes(logged):
    with serving.own_sys_path():
        pyfunc = mlflow.pyfunc.load_model(logged)
    assert isinstance(pyfunc.unwrap_python_model().model, SegmentationModel)


def test_a_registered_version_loads_through_its_alias(logged, store, features, model):
    version = mlflow.register_model(logged, "serving-test")
    mlflow.MlflowClient().set_registered_model_alias("serving-test", "champion", version.version)
    loaded = serving.load_segmentation_model("models:/serving-test@champion", store)
    pd.testing.assert_frame_equal(loaded.predict(features), model.predict(features))


def test_a_model_folder_outside_a_store_is_checked_by_its_mlmodel_provenance(
    local_copy, features, model, tmp_path
):
    loaded = serving.load_segmentation_model(str(local_copy))
    pd.testing.assert_frame_equal(loaded.predict(features), model.predict(features))
    stripped = tmp_path / "copy"
    shutil.copytree(local_copy, stripped)
    mlmodel = yaml.safe_load((stripped / "MLmodel").read_text())
    mlmodel.pop("metadata")
    (stripped / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(SegmentationError, match="no provenance tags"):
        serving.load_segmentation_model(str(stripped))


def test_a_model_this_project_did_not_log_is_refused(store, model):
    with mlflow.start_run():
        uri = serving.log_model(model)
    model_id = uri.removeprefix("models:/")
    mlflow.MlflowClient().set_logged_model_tags(model_id, {serving.TAG_PROJECT: "someone-else"})
    with pytest.raises(SegmentationError, match="was not logged by this project"):
        serving.load_segmentation_model(uri)


def test_a_registered_model_that_is_not_a_segmentation_model_is_a_clear_error(store, features):
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            KMeans(2, n_init=1).fit(features), name="kmeans", pip_requirements=["scikit-learn"]
        )
    with pytest.raises(SegmentationError, match="is not a segmentation model"):
        serving.load_segmentation_model(info.model_uri)


def test_an_unknown_model_uri_is_a_clear_error(store):
    with pytest.raises(SegmentationError, match="Could not load model 'models:/nothing@champion'"):
        serving.load_segmentation_model("models:/nothing@champion")


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({}, "no provenance tags"),
        ({serving.TAG_PROJECT: "other"}, "segmentation.project='other'"),
        (
            {serving.TAG_PROJECT: serving.PROJECT, serving.TAG_MODEL_FORMAT: "7"},
            "model format '7'",
        ),
    ],
)
def test_provenance_check_names_what_is_wrong(tags, message):
    with pytest.raises(SegmentationError, match=message):
        serving.check_provenance(tags, "models:/x/1")


def test_provenance_check_accepts_this_projects_tags():
    serving.check_provenance(serving.provenance_tags(), "models:/x/1")


# ---- pre-move (format 1) layout: a crafted pickle never runs -------------------------------
class _Payload:
    """Pickles as a call of ``func(arg)``, which is what a crafted artifact does."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


def legacy_layout(folder: Path, obj) -> Path:
    """A model folder shaped like the pre-move models: MLmodel + cloudpickle + joblib."""
    (folder / "artifacts").mkdir(parents=True)
    joblib.dump(obj, folder / "artifacts" / "segmentation_model.joblib")
    (folder / "python_model.pkl").write_bytes(b"never read")
    mlmodel = {
        "flavors": {
            "python_function": {
                "artifacts": {
                    "segmentation_model": {"path": "artifacts/segmentation_model.joblib"}
                },
                "loader_module": "mlflow.pyfunc.model",
                "python_model": "python_model.pkl",
            }
        }
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return folder


@pytest.mark.parametrize(
    ("func", "name"), [(os.system, "system"), (eval, "builtins.eval"), (exec, "builtins.exec")]
)
def test_a_crafted_legacy_pickle_is_refused_before_it_runs(tmp_path, store, func, name):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w')" if func is not os.system else f"touch {marker}"
    folder = legacy_layout(tmp_path / "model", _Payload(func, code))
    with pytest.raises(SegmentationError, match=rf"names \S*{name}.*not loaded"):
        serving.load_segmentation_model(str(folder))
    assert not marker.exists()

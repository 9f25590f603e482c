"""The pyfunc model production loads: logging, provenance, signature, and loading it back.

A segmentation model is logged with MLflow's models-from-code: ``pyfunc_model.py`` (three
lines naming :class:`SegmentationPyfunc`) is the model's code, ``src/`` is bundled through
``code_paths`` so ``mlflow models serve`` works in another environment, and the fitted model
is a folder artifact of a skops pipeline plus JSON state (``SegmentationModel.save``): nothing
is pickled. Every logged model carries provenance tags (project, model format, git commit).

``load_segmentation_model`` (used by ``src.predict`` and ``src.migrate``) never runs code from
the model store: it reads the MLmodel YAML, checks provenance, and reads the JSON and the skops
file through the trusted-type list. It does not call ``mlflow.pyfunc.load_model``, which would
execute the logged ``pyfunc_model.py`` and put the bundled ``code/`` folder first on
``sys.path``. Models logged before the package move load through ``src.tracking.legacy``.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema

from src.columns import (
    CUSTOMER_ID,
    DISCOUNT_RATE,
    DISTANCE,
    FREQUENCY,
    LENGTH,
    MONETARY,
    RECENCY,
    SEGMENT_ID,
    SEGMENT_NAME,
)
from src.config import PROJECT_ROOT
from src.errors import SegmentationError
from src.model.segmentation import MODEL_FORMAT, SegmentationModel
from src.tracking.tracker import git_commit, quiet, resolve_tracking_uri

MODEL_NAME = "segmentation_model"  # the logged model's name=
MODEL_ARTIFACT = "segmentation"  # artifact key: the SegmentationModel.save folder
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")

# Provenance tags, on the logged model and in its MLmodel metadata.
PROJECT = "customer-segmentation"
TAG_PROJECT = "segmentation.project"
TAG_MODEL_FORMAT = "segmentation.model_format"
TAG_GIT_COMMIT = "segmentation.git_commit"

# The input example logged with every model: made-up customers, never real ones.
EXAMPLE_CUSTOMERS = {
    CUSTOMER_ID: ["example-1", "example-2"],
    LENGTH: [700, 400],
    RECENCY: [5, 300],
    FREQUENCY: [25, 2],
    MONETARY: [4200.0, 90.0],
    DISCOUNT_RATE: [0.1, 0.0],
}


class SegmentationPyfunc(mlflow.pyfunc.PythonModel):
    """Serves a stored `SegmentationModel`: feature table in, segment id, name and distance out.

    A rejected input (missing column, null, infinity, out-of-range value, no rows) becomes an
    ``MlflowException`` with ``INVALID_PARAMETER_VALUE``: the REST server answers 400 with the
    reason (column, rule, rows) and no stack trace.
    """

    def load_context(self, context):
        self.model = SegmentationModel.load(Path(context.artifacts[MODEL_ARTIFACT]))

    # A DataFrame hint: MLflow infers no schema from it (the signature is explicit).
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        try:
            return self.model.predict(frame)
        except SegmentationError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None


def provenance_tags() -> dict[str, str]:
    """What says this project logged a model, and from which code."""
    return {
        TAG_PROJECT: PROJECT,
        TAG_MODEL_FORMAT: str(MODEL_FORMAT),
        TAG_GIT_COMMIT: git_commit(),
    }


def check_provenance(tags: Mapping[str, str], model_uri: str) -> None:
    """Refuse a model that this project did not log, or whose format this code cannot read."""
    project = tags.get(TAG_PROJECT)
    if project != PROJECT:
        found = "no provenance tags" if project is None else f"{TAG_PROJECT}={project!r}"
        raise SegmentationError(
            f"Model '{model_uri}' was not logged by this project ({found}; expected "
            f"{TAG_PROJECT}={PROJECT!r}), so it is not loaded: a model store is trusted like "
            "code. Point model_uri at a model that `python -m src.run` registered."
        )
    fmt = tags.get(TAG_MODEL_FORMAT)
    if fmt != str(MODEL_FORMAT):
        raise SegmentationError(
            f"Model '{model_uri}' is model format {fmt!r}; this code reads format "
            f"{MODEL_FORMAT} (and the pre-move format 1). Load it with the code that logged it "
            f"(git commit {tags.get(TAG_GIT_COMMIT, 'unknown')}) or retrain."
        )


def model_signature(feature_names: list[str]) -> ModelSignature:
    """Column names and which are required; the column types are MLflow's ``any``.

    MLflow's schema enforcement refuses int64 for a ``double`` column and int64 for a
    ``string`` column ("Can not safely convert int64 to float64"), so a typed signature would
    reject integer ids and integer feature columns, which is what people pass. The model checks
    types and values itself (``src.model.validation``), more strictly than a type could.
    """
    inputs = Schema(
        [ColSpec(AnyType(), CUSTOMER_ID, required=False)]
        + [ColSpec(AnyType(), name) for name in feature_names]
    )
    outputs = Schema(
        [
            ColSpec(AnyType(), CUSTOMER_ID, required=False),
            ColSpec("long", SEGMENT_ID),
            ColSpec("string", SEGMENT_NAME),
            ColSpec("double", DISTANCE),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def example_input(feature_names: list[str]) -> pd.DataFrame:
    """Two made-up customers with the model's feature columns (1.0 for a feature we do not
    define, which only needs to be finite)."""
    n = len(EXAMPLE_CUSTOMERS[CUSTOMER_ID])
    columns = [CUSTOMER_ID, *feature_names]
    return pd.DataFrame({c: EXAMPLE_CUSTOMERS.get(c, [1.0] * n) for c in columns})


def pip_requirements() -> list[str]:
    """Pinned to what trained the model; explicit so logging skips dependency inference."""
    from importlib.metadata import version

    pkgs = [
        "mlflow",
        "scikit-learn",
        "skops",
        "pandas",
        "numpy",
        "scipy",
        "joblib",
        "hydra-core",
        "omegaconf",
    ]
    return [f"{p}=={version(p)}" for p in pkgs]


@contextmanager
def own_sys_path() -> Iterator[None]:
    """Undo the ``sys.path`` entry an in-process ``mlflow.pyfunc.load_model`` leaves behind.

    MLflow puts a model's bundled ``code/`` folder first on ``sys.path`` when it loads the
    model (and ``log_model`` loads it once to check the input example). ``src`` is already
    imported here, so its modules keep coming from this checkout, but the entry would stay
    for the whole process and put the bundled copy ahead of everything imported later.
    """
    saved = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = saved


def log_model(model: SegmentationModel) -> str:
    """Log the fitted model (models-from-code, skops + JSON) under the active run; its URI."""
    tags = provenance_tags()
    with (
        tempfile.TemporaryDirectory() as tmp,
        quiet("mlflow.pyfunc", "mlflow.models"),
        own_sys_path(),
    ):
        folder = model.save(Path(tmp) / MODEL_ARTIFACT)
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(PYFUNC_CODE),
            artifacts={MODEL_ARTIFACT: str(folder)},
            code_paths=[str(PROJECT_ROOT / "src")],
            signature=model_signature(model.feature_names),
            input_example=example_input(model.feature_names),
            pip_requirements=pip_requirements(),
            metadata=tags,
            tags=tags,
        )
    return info.model_uri


# ---- loading ---------------------------------------------------------------------------------
def load_segmentation_model(model_uri: str, tracking_uri: str | None = None) -> SegmentationModel:
    """The `SegmentationModel` behind a model URI (e.g. `models:/name@champion`).

    Runs no code from the store: reads the MLmodel file, checks the provenance tags, then the
    JSON state and the skops pipeline (trusted types only). A pre-move model (format 1) is read
    through the restricted unpickler of ``src.tracking.legacy``.
    """
    uri = resolve_tracking_uri(tracking_uri)
    # Both: models:/ URIs resolve through the registry, which an earlier Tracker may have
    # pointed at another store.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = _download(model_uri, tmp)
        meta = _mlmodel(local, model_uri)
        pyfunc = meta.flavors.get("python_function") or {}
        artifacts = pyfunc.get("artifacts") or {}
        if "model_code_path" in pyfunc and MODEL_ARTIFACT in artifacts:
            check_provenance(_provenance(model_uri, meta), model_uri)
            return SegmentationModel.load(local / artifacts[MODEL_ARTIFACT]["path"])
        from src.tracking import legacy

        if legacy.is_legacy_layout(pyfunc):
            state = legacy.read_legacy_pickle(local / artifacts[legacy.LEGACY_ARTIFACT]["path"])
            options = getattr(state, "feature_options", None) or {}
            config, fingerprint = _training_run_config(meta.run_id)
            return legacy.upgrade(state, legacy.legacy_contract(options, config, fingerprint))
    flavors = ", ".join(sorted(meta.flavors)) or "none"
    raise SegmentationError(
        f"Model '{model_uri}' is not a segmentation model of this project (flavors: {flavors}; "
        f"a segmentation model is a python_function model with a '{MODEL_ARTIFACT}' artifact). "
        "Point model_uri at a model that `python -m src.run` registered."
    )


def _download(model_uri: str, dst: str) -> Path:
    try:
        with quiet("mlflow.store", "mlflow.artifacts"):
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=dst))
    except MlflowException as exc:
        raise SegmentationError(
            f"Could not load model '{model_uri}' from {mlflow.get_tracking_uri()}: {exc.message} "
            "Run a sweep first (`python -m src.run +experiment=lrfmc`) or pass another model_uri."
        ) from None
    except OSError as exc:
        raise SegmentationError(f"Could not download model '{model_uri}': {exc}.") from None


def _mlmodel(local: Path, model_uri: str) -> Model:
    try:
        return Model.load(local)
    except (OSError, MlflowException, ValueError) as exc:
        raise SegmentationError(
            f"'{model_uri}' is not an MLflow model (no readable MLmodel file: {exc})."
        ) from None


def _provenance(model_uri: str, meta: Model) -> Mapping[str, str]:
    """The logged model's tags as the tracking store records them; for a model outside a
    store (a local folder, ``runs:/``), the provenance written into its MLmodel."""
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    if not model_uri.startswith("models:/"):
        return {str(k): str(v) for k, v in (meta.metadata or {}).items()}
    client = mlflow.MlflowClient()
    try:
        found = get_model_name_and_version(client, model_uri)
        if len(found) == 1:
            model_id = found[0]
        else:
            version = client.get_model_version(*found)
            model_id = getattr(version, "model_id", None) or _model_id_of(version.source)
        if model_id is None:
            return {}
        return client.get_logged_model(model_id).tags
    except MlflowException as exc:
        raise SegmentationError(
            f"Could not read the provenance of model '{model_uri}': {exc.message}"
        ) from None


def _model_id_of(source: str | None) -> str | None:
    if source and source.startswith("models:/m-"):
        return source[len("models:/") :].split("/")[0]
    return None


def _training_run_config(run_id: str | None) -> tuple[dict | None, str]:
    """The resolved config and data fingerprint a (pre-move) model's training run logged."""
    import yaml

    from src.tracking.legacy import LEGACY_CONFIG

    if not run_id:
        return None, "unknown"
    try:
        run = mlflow.get_run(run_id)
        with tempfile.TemporaryDirectory() as tmp, quiet("mlflow.store", "mlflow.artifacts"):
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=LEGACY_CONFIG, dst_path=tmp
            )
            config = yaml.safe_load(Path(path).read_text())
    except (MlflowException, OSError):
        return None, "unknown"
    return config, run.data.tags.get("data_fingerprint", "unknown")

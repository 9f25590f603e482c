"""The pyfunc model production loads: signature, requirements, logging and loading."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import joblib
import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from src.columns import CUSTOMER_ID, DISTANCE, SEGMENT_ID, SEGMENT_NAME
from src.config import PROJECT_ROOT
from src.errors import SegmentationError
from src.tracking.tracker import quiet, resolve_tracking_uri

MODEL_ARTIFACT = "segmentation_model"


class SegmentationPyfunc(mlflow.pyfunc.PythonModel):
    """Serves a fitted `SegmentationModel`: feature table in, segment id, name and distance out."""

    def load_context(self, context):
        self.model = joblib.load(context.artifacts[MODEL_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.model.predict(pd.DataFrame(model_input))


def load_segmentation_model(model_uri: str, tracking_uri: str | None = None):
    """The `SegmentationModel` behind a pyfunc model URI (e.g. `models:/name@champion`)."""
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    try:
        pyfunc = mlflow.pyfunc.load_model(model_uri)
    except MlflowException as exc:
        raise SegmentationError(
            f"Could not load model '{model_uri}' from {mlflow.get_tracking_uri()}: {exc.message} "
            "Run a sweep first (`python -m src.run +experiment=lrfmc`) or pass another --model-uri."
        ) from exc
    return pyfunc.unwrap_python_model().model


def model_signature(feature_names: Iterable[str]) -> ModelSignature:
    inputs = Schema(
        [ColSpec("string", CUSTOMER_ID, required=False)]
        + [ColSpec("double", name) for name in feature_names]
    )
    outputs = Schema(
        [
            ColSpec("string", CUSTOMER_ID, required=False),
            ColSpec("long", SEGMENT_ID),
            ColSpec("string", SEGMENT_NAME),
            ColSpec("double", DISTANCE),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """Pinned to what trained the model; explicit so logging skips dependency inference."""
    from importlib.metadata import version

    pkgs = [
        "mlflow",
        "scikit-learn",
        "pandas",
        "numpy",
        "scipy",
        "joblib",
        "hydra-core",
        "omegaconf",
    ]
    return [f"{p}=={version(p)}" for p in pkgs]


def log_model(model, input_example: pd.DataFrame) -> str:
    """Log the fitted model as a pyfunc under the parent run; returns its model URI."""
    with tempfile.TemporaryDirectory() as tmp, quiet("mlflow.pyfunc", "mlflow.models"):
        path = Path(tmp) / "segmentation_model.joblib"
        joblib.dump(model, path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=SegmentationPyfunc(),
            artifacts={MODEL_ARTIFACT: str(path)},
            code_paths=[str(PROJECT_ROOT / "src")],
            signature=model_signature(model.feature_names),
            input_example=input_example,
            pip_requirements=pip_requirements(),
        )
    return info.model_uri

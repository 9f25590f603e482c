"""The only module that talks to MLflow: runs, artifacts, the pyfunc model and the registry."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from src.config import PROJECT_ROOT
from src.errors import SegmentationError
from src.schema import CUSTOMER_ID, DISTANCE, SEGMENT_ID, SEGMENT_NAME

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_ARTIFACT = "segmentation_model"
_MAX_PARAM_LEN = 6000


def default_tracking_uri() -> str:
    """An absolute sqlite URI: Hydra's per-run output folders would otherwise scatter databases."""
    return f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def resolve_tracking_uri(configured: str | None = None) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or configured or default_tracking_uri()


def sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :])
    return None


def default_optuna_storage(tracking_uri: str) -> str:
    """Optuna's sqlite file beside the MLflow database, so both survive together."""
    db = sqlite_path(tracking_uri)
    folder = db.parent if db is not None else PROJECT_ROOT
    return f"sqlite:///{folder / 'optuna.db'}"


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> dotted keys, as MLflow params are flat."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def now_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def _quiet(*loggers: str):
    """MLflow logs advice at INFO/WARNING on every model save; keep the CLI output readable."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


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


@dataclass
class Registration:
    name: str
    version: str
    alias: str
    previous_champion: str | None
    reason: str


class Tracker:
    """One parent run per sweep, one child run per trial, all under one experiment."""

    def __init__(self, tracking_uri: str, experiment: str):
        self.tracking_uri = tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.experiment_id = self._experiment_id(experiment)
        self.parent_id: str | None = None

    def _experiment_id(self, name: str) -> str:
        existing = self.client.get_experiment_by_name(name)
        if existing is not None:
            if existing.lifecycle_stage == "deleted":
                self.client.restore_experiment(existing.experiment_id)
            return existing.experiment_id
        db = sqlite_path(self.tracking_uri)
        location = (db.parent / "mlartifacts").as_uri() if db is not None else None
        return self.client.create_experiment(name, artifact_location=location)

    # ---- parent run -------------------------------------------------------------------------
    def start_parent(
        self, run_name: str, tags: Mapping[str, str], run_id: str | None = None
    ) -> str:
        """Start the sweep's parent run, or reopen `run_id` when a sweep resumes.

        Under `mlflow run` (MLFLOW_RUN_ID set) the project's own run becomes the parent.
        """
        run_id = run_id or os.environ.get("MLFLOW_RUN_ID")
        if run_id is not None:
            self.experiment_id = self.client.get_run(run_id).info.experiment_id
            run = mlflow.start_run(run_id=run_id)
        else:
            run = mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name)
        self.parent_id = run.info.run_id
        self.client.log_batch(self.parent_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        return self.parent_id

    def end_parent(self, status: str = "FINISHED") -> None:
        if self.parent_id is not None and mlflow.active_run() is not None:
            mlflow.end_run(status=status)

    def log_params(self, params: Mapping[str, Any], run_id: str | None = None) -> None:
        run_id = run_id or self.parent_id
        existing = self.client.get_run(run_id).data.params
        fresh = [Param(k, str(v)[:_MAX_PARAM_LEN]) for k, v in params.items() if k not in existing]
        for i in range(0, len(fresh), 100):
            self.client.log_batch(run_id, params=fresh[i : i + 100])

    def log_metrics(
        self, metrics: Mapping[str, float], step: int = 0, run_id: str | None = None
    ) -> None:
        ts = now_ms()
        batch = [
            Metric(k, float(v), ts, step)
            for k, v in metrics.items()
            if v is not None and pd.notna(v)
        ]
        for i in range(0, len(batch), 500):
            self.client.log_batch(run_id or self.parent_id, metrics=batch[i : i + 500])

    def set_tags(self, tags: Mapping[str, Any], run_id: str | None = None) -> None:
        self.client.log_batch(
            run_id or self.parent_id, tags=[RunTag(k, str(v)) for k, v in tags.items()]
        )

    def log_png(self, png: bytes, path: str, run_id: str | None = None) -> None:
        self._log_bytes(png, path, run_id)

    def log_text(self, text: str, path: str, run_id: str | None = None) -> None:
        self.client.log_text(run_id or self.parent_id, text, path)

    def log_frame(self, df: pd.DataFrame, path: str, run_id: str | None = None) -> None:
        """CSV for people, or Parquet when the path says so."""
        buf = io.BytesIO()
        if path.endswith(".parquet"):
            df.to_parquet(buf)
        else:
            keep_index = df.index.name is not None or not isinstance(df.index, pd.RangeIndex)
            buf.write(df.to_csv(index=keep_index).encode())
        self._log_bytes(buf.getvalue(), path, run_id)

    def log_file(self, local_path: str | Path, artifact_dir: str | None = None) -> None:
        self.client.log_artifact(self.parent_id, str(local_path), artifact_dir)

    def _log_bytes(self, data: bytes, path: str, run_id: str | None) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(path).name
            local.write_bytes(data)
            parent = str(Path(path).parent)
            self.client.log_artifact(
                run_id or self.parent_id, str(local), None if parent == "." else parent
            )

    # ---- child runs ---------------------------------------------------------------------------
    def log_trial(
        self,
        number: int,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        state: str,
        note: str | None,
        start_ms: int,
        end_ms: int,
    ) -> str:
        """One finished trial as a child run: three store calls, made off the sweep's path.

        state: complete, rejected or failed; failed trials end as FAILED runs.
        """
        run = self.client.create_run(
            self.experiment_id,
            start_time=start_ms,
            run_name=f"trial-{number + 1:03d}",
            tags={"mlflow.parentRunId": self.parent_id, "optuna_trial_number": str(number)},
        )
        tags = [RunTag("trial_state", state)]
        if note:
            tags.append(RunTag("trial_note", note[:5000]))
        self.client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, float(v), end_ms, 0) for k, v in metrics.items() if pd.notna(v)],
            params=[Param(k, str(v)[:_MAX_PARAM_LEN]) for k, v in params.items()],
            tags=tags,
        )
        self.client.set_terminated(
            run.info.run_id, "FAILED" if state == "failed" else "FINISHED", end_time=end_ms
        )
        return run.info.run_id

    def log_trial_pipeline(self, run_id: str, pipeline) -> None:
        buf = io.BytesIO()
        joblib.dump(pipeline, buf)
        self._log_bytes(buf.getvalue(), "pipeline.joblib", run_id)

    def log_model(self, model, input_example: pd.DataFrame) -> str:
        """Log the fitted model as a pyfunc under the parent run; returns its model URI."""
        with tempfile.TemporaryDirectory() as tmp, _quiet("mlflow.pyfunc", "mlflow.models"):
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

    def register(
        self,
        model_uri: str,
        name: str,
        metric: str,
        value: float,
        greater_is_better: bool,
        version_tags: Mapping[str, Any],
    ) -> Registration:
        """Register a version; `champion` moves only if it beats the champion on the same data.

        "Same data" means the same data fingerprint and feature set: a better score on other
        data says nothing about which model to serve.
        """
        tags = {k: str(v) for k, v in version_tags.items()}
        tags["objective"] = metric
        tags["objective_value"] = repr(float(value))
        mv = mlflow.register_model(model_uri, name, tags=tags)
        try:
            current = self.client.get_model_version_by_alias(name, CHAMPION)
        except MlflowException:
            current = None
        if current is None:
            alias, reason = CHAMPION, "first version registered"
        else:
            ct = current.tags
            comparable = (
                ct.get("data_fingerprint") == tags.get("data_fingerprint")
                and ct.get("feature_set") == tags.get("feature_set")
                and ct.get("objective") == metric
            )
            old = float(ct.get("objective_value", "nan"))
            better = value > old if greater_is_better else value < old
            if not comparable:
                alias = CHALLENGER
                reason = (
                    f"champion v{current.version} was scored on other data or another "
                    "objective; compare them before promoting"
                )
            elif better:
                alias = CHAMPION
                reason = f"{metric} {value:.4f} beats champion v{current.version} ({old:.4f})"
            else:
                alias = CHALLENGER
                reason = (
                    f"{metric} {value:.4f} does not beat champion v{current.version} ({old:.4f})"
                )
        self.client.set_registered_model_alias(name, alias, mv.version)
        self.client.set_model_version_tag(name, mv.version, "alias_reason", reason)
        return Registration(
            name=name,
            version=str(mv.version),
            alias=alias,
            previous_champion=None if current is None else str(current.version),
            reason=reason,
        )

    def run_url_hint(self) -> str:
        uri = self.tracking_uri
        if uri.startswith(("http://", "https://")):
            return f"open {uri}"
        return f"mlflow ui --backend-store-uri {uri}"


def log_migration(
    tracking_uri: str | None, model_uri: str, result: Mapping[str, Any], paths: Mapping[str, Path]
) -> str:
    """One run in experiment `segment-migration` with the matrix, flows and heatmap."""
    tracker = Tracker(resolve_tracking_uri(tracking_uri), "segment-migration")
    before, after = result["before"].date(), result["after"].date()
    run_id = tracker.start_parent(
        f"migration-{before}-to-{after}",
        {"model_uri": model_uri, "before": before, "after": after},
    )
    try:
        tracker.log_metrics(
            {
                "customers_at_both_dates": float(result["customers"]),
                "kept_segment": float(result["kept"]),
            }
        )
        for p in paths.values():
            tracker.log_file(p, "migration")
    finally:
        tracker.end_parent()
    return run_id

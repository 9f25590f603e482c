"""Runs, params, metrics, tags and artifacts of one MLflow experiment."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from src.config import PROJECT_ROOT

MAX_PARAM_LEN = 6000
NOTE = "mlflow.note.content"  # the run description shown in the MLflow UI


def default_tracking_uri() -> str:
    """An absolute sqlite URI: Hydra's per-run output folders would otherwise scatter databases."""
    return f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def resolve_tracking_uri(configured: str | None = None) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or configured or default_tracking_uri()


def sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :])
    return None


def mask_credentials(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``: for logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def default_optuna_storage(tracking_uri: str) -> str:
    """Optuna's sqlite file beside the MLflow database, so both survive together."""
    db = sqlite_path(tracking_uri)
    folder = db.parent if db is not None else PROJECT_ROOT
    return f"sqlite:///{folder / 'optuna.db'}"


def git_commit() -> str:
    """The project's git commit, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def now_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def quiet(*loggers: str):
    """MLflow logs advice at INFO/WARNING on every model save; keep the CLI output readable."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _activate_experiment(experiment_id: str) -> None:
    """Make ``experiment_id`` the fluent API's active experiment without leaving it in
    MLFLOW_EXPERIMENT_ID, which mlflow.set_experiment exports to every child process."""
    before = os.environ.get("MLFLOW_EXPERIMENT_ID")
    mlflow.set_experiment(experiment_id=experiment_id)
    if before is None:
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    else:
        os.environ["MLFLOW_EXPERIMENT_ID"] = before


def _join(value: Any) -> Any:
    return "; ".join(map(str, value)) if isinstance(value, list | tuple) else value


class Tracker:
    """One parent run per sweep, one child run per trial, all under one experiment."""

    def __init__(self, tracking_uri: str, experiment: str):
        self.tracking_uri = tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.experiment_name = experiment
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
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except MlflowException as exc:  # another process created it in the meantime
            existing = self.client.get_experiment_by_name(name)
            if existing is None:
                raise exc from None
            return existing.experiment_id

    # ---- parent run -------------------------------------------------------------------------
    @contextmanager
    def parent_run(
        self, run_name: str, tags: Mapping[str, Any], run_id: str | None = None
    ) -> Iterator[str]:
        """The sweep's parent run, active for the block; ends FINISHED, FAILED or KILLED.

        ``run_id`` reopens the run of a sweep that resumes. Under ``mlflow run`` (MLFLOW_RUN_ID
        set) the project's own run is the parent when it belongs to this experiment; when it
        does not (``mlflow run`` puts it in "Default" unless told otherwise), the sweep gets its
        own parent run here and the two runs point at each other.
        """
        self.parent_id = self._open_parent(run_name, run_id)
        self.set_tags(tags)
        status = "FAILED"
        try:
            yield self.parent_id
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            if mlflow.active_run() is not None:
                mlflow.end_run(status=status)

    def _open_parent(self, run_name: str, run_id: str | None) -> str:
        project_run = os.environ.get("MLFLOW_RUN_ID")
        if (
            run_id is None
            and project_run is not None
            and self.client.get_run(project_run).info.experiment_id == self.experiment_id
        ):
            run_id = project_run
        if run_id is None:
            run_id = self.client.create_run(self.experiment_id, run_name=run_name).info.run_id
            if project_run is not None:
                self.set_tags({"mlflow_project_run_id": project_run}, run_id)
                self.set_tags(
                    {
                        "sweep_parent_run_id": run_id,
                        NOTE: f"Started the sweep {run_id} in experiment {self.experiment_name!r}.",
                    },
                    project_run,
                )
        # An explicit run id wins over MLFLOW_RUN_ID in the fluent API, so models logged with
        # mlflow.<flavor>.log_model land in this run; the fluent API refuses a run outside its
        # active experiment, so that is this run's experiment.
        _activate_experiment(self.client.get_run(run_id).info.experiment_id)
        return mlflow.start_run(run_id=run_id).info.run_id

    def describe(self, text: str, run_id: str | None = None) -> None:
        """The run's description, shown on its page in the MLflow UI."""
        self.set_tags({NOTE: text}, run_id)

    def log_input(
        self,
        frame: pd.DataFrame,
        *,
        name: str,
        source: str,
        digest: str,
        context: str,
        run_id: str | None = None,
    ) -> None:
        """Record a table as the run's dataset input (training or inference context)."""
        import mlflow.data
        from mlflow.data.code_dataset_source import CodeDatasetSource
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        where = CodeDatasetSource({"source": source})  # a file, a table or the generator
        dataset = mlflow.data.from_pandas(frame, source=where, name=name, digest=digest)
        entry = DatasetInput(
            dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]
        )
        self.client.log_inputs(run_id or self.parent_id, datasets=[entry])

    def log_params(self, params: Mapping[str, Any], run_id: str | None = None) -> None:
        run_id = run_id or self.parent_id
        existing = self.client.get_run(run_id).data.params
        fresh = [Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in params.items() if k not in existing]
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
        self.log_bytes(png, path, run_id)

    def log_text(self, text: str, path: str, run_id: str | None = None) -> None:
        self.client.log_text(run_id or self.parent_id, text, path)

    def log_frame(self, df: pd.DataFrame, path: str, run_id: str | None = None) -> None:
        """CSV for people (cells holding several texts "; "-joined), or Parquet when the path
        says so."""
        buf = io.BytesIO()
        if path.endswith(".parquet"):
            df.to_parquet(buf)
        else:
            listed = [
                c
                for c in df.columns
                if df[c].dtype == object and df[c].map(lambda v: isinstance(v, list | tuple)).any()
            ]
            if listed:
                df = df.assign(**{c: df[c].map(_join) for c in listed})
            keep_index = df.index.name is not None or not isinstance(df.index, pd.RangeIndex)
            buf.write(df.to_csv(index=keep_index).encode())
        self.log_bytes(buf.getvalue(), path, run_id)

    def log_file(self, local_path: str | Path, artifact_dir: str | None = None) -> None:
        self.client.log_artifact(self.parent_id, str(local_path), artifact_dir)

    def log_bytes(self, data: bytes, path: str, run_id: str | None) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(path).name
            local.write_bytes(data)
            parent = str(Path(path).parent)
            self.client.log_artifact(
                run_id or self.parent_id, str(local), None if parent == "." else parent
            )

    def run_url_hint(self) -> str:
        uri = self.tracking_uri
        if uri.startswith(("http://", "https://")):
            return f"open {uri}"
        return f"mlflow ui --backend-store-uri {uri}"

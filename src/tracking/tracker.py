"""Runs, params, metrics, tags and artifacts of one MLflow experiment; where a sweep's stores
are, and a start-up probe that names the store that cannot be used before any work is done."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import polars as pl
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from pyarrow.lib import ArrowException

from src.config import PROJECT_ROOT
from src.errors import SegmentationError
from src.sweep.storage import SQLITE, check_store_file, file_lock, lock_path, mask, store_error

MAX_PARAM_LEN = 6000
NOTE = "mlflow.note.content"  # the run description shown in the MLflow UI
TRACKING_SETTING = "MLFLOW_TRACKING_URI (or mlflow.tracking_uri)"


def default_tracking_uri() -> str:
    """An absolute sqlite URI: Hydra's per-run output folders would otherwise scatter databases."""
    return f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def resolve_tracking_uri(configured: str | None = None) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or configured or default_tracking_uri()


def sqlite_path(uri: str) -> Path | None:
    if uri.startswith(SQLITE) and uri[len(SQLITE) :] not in ("", ":memory:"):
        return Path(uri[len(SQLITE) :].split("?", 1)[0])
    return None


def mask_credentials(text: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``, for every URL
    in ``text``: whatever is logged (params, tags, config artifacts, messages) goes through it."""
    return mask(text)


def mask_values(value: Any) -> Any:
    """``mask_credentials`` applied to every text in a nested config."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {k: mask_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_values(v) for v in value)
    return value


def tracking_folder(uri: str) -> Path | None:
    """The local folder of a tracking store (a sqlite file's folder, a file store's parent);
    None for a server."""
    if (db := sqlite_path(uri)) is not None:
        return db.parent
    if uri.startswith("file:"):
        from urllib.parse import urlsplit

        return Path(urlsplit(uri).path).parent
    if uri and "://" not in uri:
        return Path(uri).resolve().parent
    return None


def default_optuna_storage(tracking_uri: str) -> str:
    """Optuna's sqlite file beside a local MLflow store, so both live and move together."""
    folder = tracking_folder(tracking_uri)
    if folder is None:
        raise SegmentationError(
            f"The MLflow tracking store {mask(tracking_uri)} is a server, and the sweep's Optuna "
            "study belongs in a storage every worker reaches too: set sweep.storage="
            'postgresql://... or OPTUNA_STORAGE (eval "$(python -m src.team env)" sets both '
            "for the team servers), or sweep.storage=sqlite:///optuna.db to keep the study on "
            "this machine."
        )
    return f"sqlite:///{folder / 'optuna.db'}"


@dataclass(frozen=True)
class Stores:
    """Where a sweep writes: the MLflow tracking URI and the Optuna storage URL, and why."""

    tracking_uri: str
    storage: str
    storage_source: str  # "sweep.storage", "OPTUNA_STORAGE" or "beside the MLflow store"

    def describe(self) -> str:
        return f"{mask(self.storage)} ({self.storage_source})"


def resolve_stores(
    tracking_uri: str | None, storage: str | None, cwd: Path | None = None
) -> Stores:
    """``$MLFLOW_TRACKING_URI`` > ``mlflow.tracking_uri`` > ``<project>/mlflow.db``; the
    study: ``sweep.storage`` > ``$OPTUNA_STORAGE`` > ``optuna.db`` beside a local MLflow store
    (a tracking server needs one of the first two). A relative ``journal:`` path is taken from
    ``cwd``, where the command was started."""
    uri = resolve_tracking_uri(tracking_uri)
    if storage:
        url, source = storage, "sweep.storage"
    elif os.environ.get("OPTUNA_STORAGE"):
        url, source = os.environ["OPTUNA_STORAGE"], "OPTUNA_STORAGE"
    else:
        url, source = default_optuna_storage(uri), "beside the MLflow store"
    if url.startswith("journal:") and cwd is not None:
        path = Path(url.removeprefix("journal:"))
        url = f"journal:{path if path.is_absolute() else cwd / path}"
    return Stores(uri, url, source)


def _is_sqlite_file(path: Path) -> bool:
    """An empty file (SQLite starts it afresh) or one with SQLite's header."""
    with path.open("rb") as fh:
        head = fh.read(16)
    return head in (b"", b"SQLite format 3\x00")


def probe_tracking_store(uri: str, timeout: float = 5.0, *, writable: bool = True) -> None:
    """Fail at start-up, in one message naming the store, when it cannot be used: a tracking
    server that does not answer (MLflow would retry for minutes), or a sqlite file that is
    not a database, or (``writable``: the command will write to it) read-only or in a
    read-only folder. A new sqlite store is created here, under a file lock: MLflow's schema
    migration fails when two processes run it at once."""
    if uri.startswith(("http://", "https://")):
        _probe_server(uri, timeout)
        return
    db = sqlite_path(uri)
    if db is None:
        return
    if writable or not db.exists():
        check_store_file(db, "MLflow store", TRACKING_SETTING)
    _check_sqlite_header(db, "MLflow store")
    try:
        with file_lock(lock_path(db, "open")), quiet("mlflow", "alembic"):
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)
            client.search_registered_models(max_results=1)
    except Exception as exc:  # SQLAlchemy and MLflow wrap the sqlite error differently
        raise store_error(db, "MLflow store", exc, TRACKING_SETTING) from None


def _check_sqlite_header(db: Path, what: str) -> None:
    if db.is_file() and not _is_sqlite_file(db):
        raise SegmentationError(
            f"The {what} {db} is not a SQLite database (the file does not start with "
            f"SQLite's header). Move it aside (mv {db} {db}.broken) to start a new store, or "
            "restore it from a backup."
        )


def open_stores(tracking_uri: str | None, storage: str | None, cwd: Path | None = None) -> Stores:
    """The sweep's stores (:func:`resolve_stores`), each checked before any data is read: the
    tracking store probed first (a server that does not answer is named as such, not as a
    missing study storage), then a local study file (sqlite or journal) checked for what
    :func:`src.sweep.storage.open_storage` would otherwise find only after the data loaded."""
    from src.sweep.storage import journal_file, sqlite_file

    probe_tracking_store(resolve_tracking_uri(tracking_uri))
    stores = resolve_stores(tracking_uri, storage, cwd)
    study_file = sqlite_file(stores.storage) or journal_file(stores.storage)
    if study_file is not None:
        what = "Optuna store" if sqlite_file(stores.storage) else "Optuna journal"
        check_store_file(study_file, what, "sweep.storage")
        if sqlite_file(stores.storage):
            _check_sqlite_header(study_file, what)
    return stores


def _probe_server(uri: str, timeout: float) -> None:
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    source = (
        "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "mlflow.tracking_uri"
    )
    try:
        response = http_request(
            get_default_host_creds(uri),
            "/api/2.0/mlflow/experiments/search",
            "GET",
            max_retries=0,
            timeout=timeout,
            raise_on_status=False,
            params={"max_results": 1},
        )
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise SegmentationError(
            f"The MLflow tracking server {mask(uri)} ({source}) does not answer: {reason}. Start "
            "it (make team-up for the team servers), or point MLFLOW_TRACKING_URI at a running "
            "server (unset it to use the local sqlite store)."
        ) from None
    if response.status_code in (401, 403):
        raise SegmentationError(
            f"The MLflow tracking server {mask(uri)} ({source}) refuses this client (HTTP "
            f"{response.status_code}): set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN."
        )
    if response.status_code != 200:
        raise SegmentationError(
            f"{mask(uri)} ({source}) answers HTTP {response.status_code} to MLflow's experiment "
            "search: is it an MLflow tracking server?"
        )


@contextmanager
def registry_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise reading and moving a model's aliases between processes on one sqlite store
    (two sweeps moving ``champion`` at once otherwise collide on its UNIQUE constraint)."""
    db = sqlite_path(tracking_uri)
    if db is None:
        yield
        return
    with file_lock(lock_path(db, "registry")):
        yield


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


def table_schema(frame: pd.DataFrame):
    """The MLflow schema MLflow would infer for ``frame``, without its per-value scan.

    MLflow decides whether a column is required by testing every value for None/NaN in Python
    (2 minutes for a million customers x 5 features); here the types come from a few rows and
    ``required`` from one vectorised ``isna`` per column, which gives the same schema.
    """
    from mlflow.types.schema import ColSpec, Schema
    from mlflow.types.utils import _infer_schema

    inferred = _infer_schema(frame.head(1000))
    missing = frame.isna().any()
    return Schema(
        [
            ColSpec(spec.type, spec.name, required=not bool(missing[spec.name]))
            if isinstance(spec, ColSpec) and spec.name in missing.index
            else spec
            for spec in inferred.inputs
        ]
    )


def _csv(df: pd.DataFrame, keep_index: bool) -> bytes:
    """``df`` as CSV text. polars writes it (per-customer tables of a million rows: ~5x faster
    than ``DataFrame.to_csv``, the same text for numbers and strings); a frame polars cannot
    take (mixed-type object columns) goes through pandas."""
    try:
        frame = pl.from_pandas(df, include_index=keep_index)
    except (TypeError, ValueError, pl.exceptions.PolarsError, ArrowException):
        return df.to_csv(index=keep_index).encode()
    if any(dtype.is_nested() or dtype == pl.Object for dtype in frame.dtypes):
        return df.to_csv(index=keep_index).encode()
    return frame.write_csv().encode()


def _join(value: Any) -> Any:
    return "; ".join(map(str, value)) if isinstance(value, list | tuple) else value


class Tracker:
    """One parent run per sweep, one child run per trial, all under one experiment."""

    def __init__(self, tracking_uri: str, experiment: str | None, *, run_id: str | None = None):
        """``experiment`` is created when missing; with ``run_id`` the tracker joins that
        existing parent run's experiment instead (a worker never creates the experiment)."""
        self.tracking_uri = tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.parent_id: str | None = run_id
        if run_id is not None:
            self.experiment_id = self.client.get_run(run_id).info.experiment_id
            self.experiment_name = self.client.get_experiment(self.experiment_id).name
        else:
            self.experiment_name = experiment
            self.experiment_id = self._experiment_id(experiment)

    @classmethod
    def for_run(cls, tracking_uri: str, run_id: str) -> Tracker:
        """A tracker whose parent run is the existing run ``run_id``, in its experiment."""
        return cls(tracking_uri, None, run_id=run_id)

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

        ``run_id`` reopens an existing run (the sweep's finaliser, a resume). Under
        ``mlflow run`` (MLFLOW_RUN_ID set) the project's own run is the parent when it belongs
        to this experiment; when it does not (``mlflow run`` puts it in "Default" unless told
        otherwise), the sweep gets its own parent run here and the two runs point at each other.
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

    def create_parent(self, run_name: str, tags: Mapping[str, Any]) -> str:
        """A new parent run (RUNNING) that is not made the fluent API's active run: the
        processes of a sweep log child runs under it until one reopens it with
        :meth:`parent_run` to finalise."""
        self.parent_id = self._new_parent(run_name)
        self.set_tags(tags)
        return self.parent_id

    def end_parent(self, status: str) -> None:
        """End a still RUNNING parent run with ``status`` (a sweep stopped before finalising)."""
        if (
            self.parent_id is not None
            and self.client.get_run(self.parent_id).info.status == "RUNNING"
        ):
            self.client.set_terminated(self.parent_id, status)

    def _new_parent(self, run_name: str) -> str:
        project_run = os.environ.get("MLFLOW_RUN_ID")
        if (
            project_run is not None
            and self.client.get_run(project_run).info.experiment_id == self.experiment_id
        ):
            return project_run
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
        return run_id

    def _open_parent(self, run_name: str, run_id: str | None) -> str:
        if run_id is None:
            run_id = self._new_parent(run_name)
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
        dataset.schema = table_schema(frame)  # set before MLflow infers it value by value
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
            buf.write(_csv(df, keep_index))
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

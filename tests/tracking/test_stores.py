"""Where a sweep's stores are and the start-up checks that name a store that cannot be used."""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from src.config import PROJECT_ROOT
from src.errors import SegmentationError
from src.tracking.tracker import open_stores, probe_tracking_store, resolve_stores
from tests.read_only import read_only


@pytest.fixture(autouse=True)
def no_tracking_uri_from_the_environment(monkeypatch):
    """These tests pass the store explicitly; $MLFLOW_TRACKING_URI would take precedence."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_tracking_server_that_does_not_answer_is_named_at_once():
    uri = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(SegmentationError, match=f"tracking server {uri}.*does not answer"):
        probe_tracking_store(uri, timeout=2)
    assert time.monotonic() - started < 10  # MLflow's own retries take minutes


def test_a_corrupt_mlflow_store_is_named_with_the_fix(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SegmentationError, match=f"{db} is not a SQLite database.*mv {db}"):
        probe_tracking_store(f"sqlite:///{db}")


def test_a_truncated_mlflow_store_with_a_sqlite_header_is_named(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\x01" * 200)
    with pytest.raises(SegmentationError, match=str(db)):
        probe_tracking_store(f"sqlite:///{db}")


def test_a_tracking_server_that_does_not_answer_is_named_before_the_study_storage():
    """Without sweep.storage a server would also need a study storage; the dead server is the
    problem to name first."""
    uri = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(SegmentationError, match=f"tracking server {uri}.*does not answer"):
        open_stores(uri, None)


def test_a_corrupt_study_store_is_named_before_any_data_is_read(tmp_path):
    (tmp_path / "optuna.db").write_bytes(b"not a database" * 100)
    with pytest.raises(SegmentationError, match=f"Optuna store {tmp_path / 'optuna.db'} is not"):
        open_stores(f"sqlite:///{tmp_path / 'mlflow.db'}", None)


# Run in a process of its own: for root the path is read-only only inside that process's mount
# namespace (tests/read_only.py), and the start-up checks must meet it as the CLI would.
PROBE = """
import sys
from src.errors import SegmentationError
from src.tracking.tracker import open_stores, probe_tracking_store
try:
    if sys.argv[2] == "read":
        probe_tracking_store(sys.argv[1], writable=False)
    else:
        open_stores(sys.argv[1], None)
except SegmentationError as exc:
    sys.exit(f"error: {exc}")
"""


def probe_in_process(
    prefix: list[str], uri: str, use: str = "sweep"
) -> subprocess.CompletedProcess:
    """The start-up checks of a sweep (``use="sweep"``) or of a command that only reads the
    store (``"read"``), in a process of their own."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "OPTUNA_STORAGE")
    }
    return subprocess.run(
        [*prefix, sys.executable, "-c", PROBE, uri, use],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_refused(proc, pattern: str) -> None:
    """The probe exits 1 with one message matching ``pattern``, and no traceback."""
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert re.search(pattern, proc.stderr), proc.stderr


def test_a_read_only_folder_for_the_stores_is_named(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder) as prefix:
        proc = probe_in_process(prefix, f"sqlite:///{folder / 'mlflow.db'}")
    assert_refused(proc, f"folder {re.escape(str(folder))} .*is read-only")
    assert not (folder / "mlflow.db").exists()


def test_a_read_only_existing_store_is_named(tmp_path):
    db = tmp_path / "mlflow.db"
    probe_tracking_store(f"sqlite:///{db}")
    with read_only(db) as prefix:
        proc = probe_in_process(prefix, f"sqlite:///{db}")
    assert_refused(proc, re.escape(f"The MLflow store {db} is read-only"))


def test_a_read_only_study_store_is_named_before_any_data_is_read(tmp_path):
    """Optuna itself would say "exceeding max length" once the data had loaded."""
    from src.sweep.storage import open_storage

    db = tmp_path / "optuna.db"
    open_storage(f"sqlite:///{db}")
    with read_only(db) as prefix:
        proc = probe_in_process(prefix, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert_refused(proc, re.escape(f"The Optuna store {db} is read-only"))


def test_a_read_only_store_is_enough_for_a_command_that_only_reads_it(tmp_path):
    db = tmp_path / "mlflow.db"
    probe_tracking_store(f"sqlite:///{db}")
    with read_only(db) as prefix:
        proc = probe_in_process(prefix, f"sqlite:///{db}", use="read")
    assert proc.returncode == 0, proc.stderr


def _open_store(uri: str, queue) -> None:
    try:
        probe_tracking_store(uri)
        queue.put("ok")
    except BaseException as exc:  # reported to the test
        queue.put(f"{type(exc).__name__}: {exc}")


def test_three_processes_creating_one_new_sqlite_store_at_once_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_open_store, args=(uri, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert outcomes == ["ok"] * 3
    assert MlflowClient(uri).search_experiments()  # the store is whole: Default exists


def test_the_study_lives_beside_a_local_mlflow_store(tmp_path, monkeypatch):
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    stores = resolve_stores(f"sqlite:///{tmp_path / 'mlflow.db'}", None)
    assert stores.storage == f"sqlite:///{tmp_path / 'optuna.db'}"


def test_a_tracking_server_takes_the_study_from_optuna_storage(monkeypatch):
    monkeypatch.setenv("OPTUNA_STORAGE", "postgresql://u:secret@127.0.0.1:5/optuna")
    stores = resolve_stores("http://127.0.0.1:5000", None)
    assert stores.storage == "postgresql://u:secret@127.0.0.1:5/optuna"
    assert "secret" not in stores.describe()


def test_a_tracking_server_without_a_shared_study_storage_is_refused(monkeypatch):
    """The study must not land in a project-folder optuna.db, apart from the shared store."""
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    with pytest.raises(SegmentationError, match="sweep.storage=postgresql"):
        resolve_stores("http://127.0.0.1:5000", None)


def test_sweep_storage_wins_and_a_relative_journal_is_taken_from_the_start_folder(tmp_path):
    stores = resolve_stores("http://127.0.0.1:5000", "journal:sweep.journal", tmp_path)
    assert stores.storage == f"journal:{Path(tmp_path) / 'sweep.journal'}"

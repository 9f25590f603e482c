"""Real team servers for a test session: a private PostgreSQL cluster and an MLflow tracking
server started with the project's own `src.team.servers` in a scratch folder, stopped by PID
at the end, and helpers to run worker processes against them.

Without PostgreSQL's server programs or the psycopg driver the server tests are skipped, unless
``REQUIRE_TEAM_SERVERS=1`` (CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from src.errors import SegmentationError
from src.team import servers

REQUIRE_ENV = "REQUIRE_TEAM_SERVERS"
WORKER = Path(__file__).with_name("team_worker.py")
# Lines a worker must never print: SQLite's and PostgreSQL's signs of a storage race.
STORAGE_RACE_SIGNS = ("database is locked", "duplicate key", "UniqueViolation", "IntegrityError")


@dataclass(frozen=True)
class TeamServers:
    state: servers.TeamState
    credentials: servers.Credentials

    @property
    def tracking_uri(self) -> str:
        return self.state.tracking_uri

    @property
    def optuna_url(self) -> str:
        return self.state.database_url("optuna", self.credentials.password)

    @property
    def artifacts(self) -> Path:
        return servers.Layout(Path(self.state.root)).artifacts


def skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires the server tests to run)")
    pytest.skip(reason)


@contextlib.contextmanager
def team_servers() -> Iterator[TeamServers]:
    """Start both servers in a fresh folder under the system temp dir; stop and delete after.

    Not under pytest's tmp_path: as root PostgreSQL runs as `postgres`, which cannot enter
    pytest's private /tmp/pytest-of-root.
    """
    try:
        servers.find_pg_bin()
        import psycopg  # noqa: F401
    except (SegmentationError, ImportError) as exc:
        skip_or_fail(f"team servers unavailable: {exc}")
    root = Path(tempfile.mkdtemp(prefix="segmentation-team-"))
    try:
        state = servers.start(servers.TeamSettings(root=root, mlflow_workers=1))
        credentials = servers.load_credentials(root)
        assert credentials is not None
        yield TeamServers(state, credentials)
    finally:
        with contextlib.suppress(SegmentationError):
            servers.stop(root)
        shutil.rmtree(root, ignore_errors=True)


def start_worker(
    storage: str, study: str, *args: str, tracking_uri: str | None = None
) -> subprocess.Popen:
    """One worker process (tests/e2e/team_worker.py); the storage URL goes in its environment."""
    env = {**os.environ, "OPTUNA_STORAGE": storage, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return subprocess.Popen(
        [sys.executable, str(WORKER), "--study", study, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_together(count: int, gate: Path, start) -> list[subprocess.Popen]:
    """Start `count` workers that wait at `gate` until all are ready, so every one takes part.

    `start(i, ready_file)` starts worker i; it touches `ready_file` once its study is loaded.
    """
    ready = [gate.with_name(f"{gate.name}.ready{i}") for i in range(count)]
    procs = [start(i, r) for i, r in enumerate(ready)]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready):
        failed = [p for p in procs if p.poll() is not None]
        if failed or time.monotonic() > deadline:
            for p in procs:
                p.kill()
            raise AssertionError(f"workers did not get ready: {finish(failed or procs)}")
        time.sleep(0.05)
    gate.touch()
    return procs


def finish(procs: list[subprocess.Popen], timeout: float = 240) -> list[tuple[int, str, str]]:
    """Wait for the workers; (returncode, stdout, stderr) of each."""
    out = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, stderr = p.communicate()
        out.append((p.returncode, stdout, stderr))
    return out


def assert_clean(results: list[tuple[int, str, str]]) -> None:
    """Every worker exited 0 and printed no sign of a storage race."""
    for code, _, stderr in results:
        assert code == 0, stderr
        for sign in STORAGE_RACE_SIGNS:
            assert sign not in stderr, stderr

"""The team-server helpers that need no server: URLs, ports, PIDs, permissions, CLI errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from src.config import PROJECT_ROOT
from src.errors import SegmentationError
from src.team import servers


def state(**overrides) -> servers.TeamState:
    fields = dict(root="/x", pg_bin="/x", user="team", postgres_port=5999, mlflow_port=5998)
    return servers.TeamState(**{**fields, **overrides})


def test_masked_url_hides_the_password_and_env_url_encodes_it():
    s = state()
    assert s.masked_url("optuna") == "postgresql://team:***@127.0.0.1:5999/optuna"
    assert s.database_url("optuna", "p@ss/w:rd") == (
        "postgresql://team:p%40ss%2Fw%3Ard@127.0.0.1:5999/optuna"
    )


def test_url_without_password_leaves_it_to_libpq():
    assert state().database_url("mlflow") == "postgresql://team@127.0.0.1:5999/mlflow"


def test_credentials_repr_shows_no_password():
    creds = servers.Credentials("team", "s3cret-one", "admin", "s3cret-two")
    assert "s3cret" not in repr(creds)


def test_missing_postgres_programs_name_the_folder_and_the_package(tmp_path):
    with pytest.raises(SegmentationError, match=r"apt-get install -y postgresql") as exc:
        servers.find_pg_bin(tmp_path)
    assert str(tmp_path) in str(exc.value)


def test_free_port_keeps_the_preferred_port_when_nothing_listens():
    port = servers.free_port()
    assert servers.free_port(port) == port


def test_free_port_moves_when_the_preferred_port_is_taken():
    with socket.socket() as s:
        s.bind((servers.LOOPBACK, 0))
        s.listen()
        taken = s.getsockname()[1]
        assert servers.free_port(taken) != taken


def test_a_zombie_is_not_alive():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while servers.pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not servers.pid_alive(child.pid)
    child.wait()


def test_a_recycled_pid_is_not_taken_for_the_mlflow_server():
    assert servers.pid_alive(os.getpid())
    assert not servers.is_mlflow_server(os.getpid(), 5000)


def test_a_folder_the_cluster_owner_cannot_enter_is_named(tmp_path):
    private = tmp_path / "private"
    (private / "team").mkdir(parents=True)
    private.chmod(0o700)
    nobody = servers.ClusterOwner("nobody", uid=65534, gid=65534)
    with pytest.raises(SegmentationError, match="TEAM_DIR") as exc:
        servers.check_reachable(private / "team" / "postgres", nobody)
    assert str(private) in str(exc.value)
    assert "mode 700" in str(exc.value)


def test_cli_without_started_servers_says_what_to_run(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "src.team", "env", "--root", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "make team-up" in proc.stderr

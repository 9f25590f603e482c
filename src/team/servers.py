"""Team servers: a PostgreSQL cluster and an MLflow tracking server for sweeps shared by several
workers, started and stopped by the project.

Everything lives in one folder (default ``.team/`` in the project, ``$TEAM_DIR`` or ``--root``
elsewhere)::

    postgres/data       the cluster (initdb once; owned by the cluster owner)
    postgres/postgres.log
    artifacts/          MLflow's --artifacts-destination (artifacts proxied by the server)
    mlflow.log
    secrets.json        role and admin passwords (mode 0600)
    pgpass              libpq password file for the MLflow server (mode 0600)
    state.json          PIDs and ports of the running servers

Both servers listen on 127.0.0.1 only, on free ports (the previous ones when still free, so the
URLs stay the same across restarts), and are stopped by PID: PostgreSQL with ``pg_ctl stop``,
the MLflow server by signalling the process group it was started in (``mlflow server`` runs
uvicorn and its workers as children). Passwords never reach a command line or a log: the MLflow
server reads its password from ``pgpass`` (``PGPASSFILE``), and status lines mask it; only
``env`` prints the full Optuna URL, because that is what a worker needs.

PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` system user
that Debian's ``postgresql`` package creates, and every folder above the cluster must let that
user through.

This is hand-written process management because no library starts a throwaway PostgreSQL from
Debian's binaries and an MLflow server together; the servers themselves are the real ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from src.errors import SegmentationError

LOOPBACK = "127.0.0.1"
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
DATABASES = ("mlflow", "optuna")
ROLE = "segmentation"
ADMIN = "team_admin"
CLUSTER_OWNER_WHEN_ROOT = "postgres"
TEAM_DIR_ENV = "TEAM_DIR"
INSTALL_HINT = "install Debian's PostgreSQL server (apt-get install -y postgresql)"
DRIVER_HINT = "install the PostgreSQL driver with: .venv/bin/pip install -e '.[team]'"


@dataclass(frozen=True)
class TeamSettings:
    """Where the servers live and how they are started."""

    root: Path
    mlflow_workers: int = 2  # uvicorn workers; MLflow's own default (4) is too many on 2 cores
    timeout: float = 120.0  # seconds to wait for each server to answer, or to stop
    pg_bin: Path | None = None  # None: the newest /usr/lib/postgresql/*/bin


@dataclass(frozen=True)
class Layout:
    """The files of one team folder."""

    root: Path

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def cluster(self) -> Path:
        return self.postgres / "data"

    @property
    def postgres_log(self) -> Path:
        return self.postgres / "postgres.log"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def mlflow_log(self) -> Path:
        return self.root / "mlflow.log"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def pgpass(self) -> Path:
        return self.root / "pgpass"

    @property
    def state(self) -> Path:
        return self.root / "state.json"


@dataclass(frozen=True)
class Credentials:
    """The application role (owns the databases) and the cluster's superuser (setup only)."""

    user: str
    password: str = field(repr=False)
    admin_user: str
    admin_password: str = field(repr=False)


@dataclass(frozen=True)
class ClusterOwner:
    """The account PostgreSQL runs as when the project runs as root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class TeamState:
    """What `start` recorded: enough to reach, report and stop both servers."""

    root: str
    pg_bin: str
    user: str
    postgres_port: int
    mlflow_port: int
    postgres_pid: int | None = None
    mlflow_pid: int | None = None
    started_at: str | None = None

    @property
    def tracking_uri(self) -> str:
        return f"http://{LOOPBACK}:{self.mlflow_port}"

    def database_url(self, database: str, password: str | None = None) -> str:
        """A SQLAlchemy URL; without a password libpq looks in PGPASSFILE / ~/.pgpass."""
        secret = "" if password is None else ":" + quote(password, safe="")
        return self._url(database, secret)

    def masked_url(self, database: str) -> str:
        return self._url(database, ":***")

    def _url(self, database: str, secret: str) -> str:
        user = quote(self.user, safe="")
        return f"postgresql://{user}{secret}@{LOOPBACK}:{self.postgres_port}/{database}"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    answering: bool
    address: str

    def line(self) -> str:
        if not self.running:
            return f"{self.name:<10} stopped      {self.address}"
        health = "answering" if self.answering else "NOT answering"
        return f"{self.name:<10} pid {self.pid:<8} {health:<13} {self.address}"


def default_root() -> Path:
    """`$TEAM_DIR`, else `.team/` in the project."""
    from src.config import PROJECT_ROOT

    return Path(os.environ.get(TEAM_DIR_ENV) or PROJECT_ROOT / ".team")


# --- locating PostgreSQL -------------------------------------------------------------------


def find_pg_bin(explicit: Path | None = None) -> Path:
    """The folder holding initdb, pg_ctl and postgres: `explicit`, else the newest Debian one."""
    candidates = [explicit] if explicit else _debian_pg_bins()
    for folder in candidates:
        if all((folder / tool).is_file() for tool in PG_TOOLS):
            return folder
    where = str(explicit) if explicit else PG_BIN_GLOB
    raise SegmentationError(
        f"PostgreSQL server programs ({', '.join(PG_TOOLS)}) not found in {where}: "
        f"{INSTALL_HINT}, or pass --pg-bin with the folder that holds them."
    )


def _debian_pg_bins() -> list[Path]:
    def major(path: Path) -> int:
        name = path.parent.name
        return int(name) if name.isdigit() else -1

    return sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")), key=major, reverse=True)


def cluster_owner() -> ClusterOwner | None:
    """None when PostgreSQL can run as the current user; the `postgres` account under root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(CLUSTER_OWNER_WHEN_ROOT)
    except KeyError:
        raise SegmentationError(
            "PostgreSQL refuses to run as root and there is no "
            f"'{CLUSTER_OWNER_WHEN_ROOT}' user to run it as: {INSTALL_HINT} (it creates that "
            "user), or run the project as an ordinary user."
        ) from None
    return ClusterOwner(entry.pw_name, entry.pw_uid, entry.pw_gid)


def check_reachable(folder: Path, owner: ClusterOwner | None) -> None:
    """Every folder above `folder` must let the cluster owner through (search permission)."""
    if owner is None:
        return
    for parent in folder.resolve().parents:
        st = parent.stat()
        if st.st_uid == owner.uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid == owner.gid:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            raise SegmentationError(
                f"PostgreSQL runs as '{owner.name}' (the project runs as root), and "
                f"{parent} (mode {stat.S_IMODE(st.st_mode):o}) does not let that user reach "
                f"{folder}: choose a team folder elsewhere (TEAM_DIR=... or --root ...), e.g. "
                "under /srv or /var/tmp."
            )


def _as_owner(owner: ClusterOwner | None) -> dict:
    if owner is None:
        return {}
    return {"user": owner.uid, "group": owner.gid, "extra_groups": []}


def _run_pg(
    owner: ClusterOwner | None, args: list[str], timeout: float
) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd="/",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        **_as_owner(owner),
    )


# --- small helpers ---------------------------------------------------------------------------


def free_port(preferred: int | None = None) -> int:
    """`preferred` when nothing listens there on loopback, else a port the kernel hands out."""
    if preferred:
        with socket.socket() as s:
            # as servers bind: a port left in TIME_WAIT by the last run counts as free
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((LOOPBACK, preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def pid_alive(pid: int | None) -> bool:
    """True for a live process; False for none, a zombie or a PID that is gone."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the state letter follows the parenthesised command name
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command name: state, ppid, pgrp
        if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(stat_file.parent.name))
    return members


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _reap(pid: int) -> None:
    """Collect the exit status of a child of this process, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (passwords)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --- state and secrets -----------------------------------------------------------------------


def load_state(root: Path) -> TeamState | None:
    path = Layout(root).state
    if not path.is_file():
        return None
    return TeamState(**json.loads(path.read_text()))


def save_state(state: TeamState) -> None:
    path = Layout(Path(state.root)).state
    _write_private(path, json.dumps(asdict(state), indent=2) + "\n")


def load_credentials(root: Path) -> Credentials | None:
    path = Layout(root).secrets
    if not path.is_file():
        return None
    return Credentials(**json.loads(path.read_text()))


def _new_credentials(layout: Layout) -> Credentials:
    creds = Credentials(
        user=ROLE,
        password=secrets.token_urlsafe(24),
        admin_user=ADMIN,
        admin_password=secrets.token_urlsafe(24),
    )
    _write_private(layout.secrets, json.dumps(asdict(creds), indent=2) + "\n")
    _write_private(layout.pgpass, f"{LOOPBACK}:*:*:{creds.user}:{creds.password}\n")
    return creds


def require_state(root: Path) -> TeamState:
    state = load_state(root)
    if state is None:
        raise SegmentationError(
            f"no team servers were started in {root}: run `make team-up` (or "
            f"`python -m src.team start --root {root}`) first."
        )
    return state


# --- PostgreSQL ------------------------------------------------------------------------------


def init_cluster(layout: Layout, pg_bin: Path, owner: ClusterOwner | None, timeout: float):
    """Create the cluster once (superuser with a password, scram auth, loopback only)."""
    creds = load_credentials(layout.root)
    if (layout.cluster / "PG_VERSION").is_file():
        if creds is None:
            raise SegmentationError(
                f"{layout.cluster} holds a cluster but {layout.secrets} is missing, so its "
                f"passwords are lost: stop it and remove {layout.postgres} to start afresh."
            )
        return creds
    layout.postgres.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.postgres, 0o700)
    creds = creds or _new_credentials(layout)
    pwfile = layout.postgres / "initdb.pw"
    _write_private(pwfile, creds.admin_password + "\n")
    if owner is not None:
        for path in (layout.postgres, pwfile):
            os.chown(path, owner.uid, owner.gid)
    try:
        proc = _run_pg(
            owner,
            [
                str(pg_bin / "initdb"),
                "--pgdata",
                str(layout.cluster),
                "--username",
                creds.admin_user,
                "--pwfile",
                str(pwfile),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-instructions",
            ],
            timeout,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise SegmentationError(
            f"initdb failed for {layout.cluster}:\n{(proc.stderr or proc.stdout).strip()}"
        )
    with open(layout.cluster / "postgresql.conf", "a") as conf:
        # Loopback TCP only; no Unix socket (its default folder needs root to create).
        conf.write(
            "\n# team servers (src/team/servers.py)\n"
            f"listen_addresses = '{LOOPBACK}'\n"
            "unix_socket_directories = ''\n"
        )
    return creds


def postgres_pid(layout: Layout) -> int | None:
    """The postmaster's PID from postmaster.pid, when the process is alive."""
    try:
        pid = int((layout.cluster / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def start_postgres(
    layout: Layout, pg_bin: Path, owner: ClusterOwner | None, port: int, timeout: float
) -> int:
    proc = _run_pg(
        owner,
        [
            str(pg_bin / "pg_ctl"),
            "--pgdata",
            str(layout.cluster),
            "--log",
            str(layout.postgres_log),
            "--wait",
            "--timeout",
            str(int(timeout)),
            "-o",
            f"-p {port}",
            "start",
        ],
        timeout + 10,
    )
    pid = postgres_pid(layout)
    if proc.returncode != 0 or pid is None:
        raise SegmentationError(
            f"PostgreSQL did not start on {LOOPBACK}:{port} ({layout.cluster}); its log "
            f"{layout.postgres_log} ends with:\n{_tail(layout.postgres_log)}"
        )
    return pid


def stop_postgres(layout: Layout, pg_bin: Path, owner: ClusterOwner | None, timeout: float):
    """Fast shutdown (running transactions are rolled back) with pg_ctl, waited for."""
    pid = postgres_pid(layout)
    if pid is None:
        return False
    proc = _run_pg(
        owner,
        [
            str(pg_bin / "pg_ctl"),
            "--pgdata",
            str(layout.cluster),
            "--mode",
            "fast",
            "--wait",
            "--timeout",
            str(int(timeout)),
            "stop",
        ],
        timeout + 10,
    )
    if proc.returncode != 0 and pid_alive(pid):
        raise SegmentationError(
            f"pg_ctl could not stop PostgreSQL (pid {pid}):\n{proc.stderr.strip()}"
        )
    return True


def ensure_databases(state: TeamState, creds: Credentials, timeout: float) -> None:
    """The application role and its databases, created once; then the Optuna tables.

    Optuna creates its tables on first use, and several workers doing that at the same moment
    on an empty database fail with duplicate-key errors, so the tables are made here, once.
    MLflow's server migrates its own database before it starts its workers.
    """
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        raise SegmentationError(
            f"the PostgreSQL driver psycopg is missing: {DRIVER_HINT}"
        ) from None
    with psycopg.connect(
        host=LOOPBACK,
        port=state.postgres_port,
        user=creds.admin_user,
        password=creds.admin_password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=int(timeout),
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (creds.user,)).fetchone():
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(creds.user), sql.Literal(creds.password)
                )
            )
        else:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(creds.user), sql.Literal(creds.password)
                )
            )
        for db in DATABASES:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(db), sql.Identifier(creds.user)
                    )
                )
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.storages.RDBStorage(state.database_url("optuna", creds.password)).remove_session()


# --- MLflow ----------------------------------------------------------------------------------


def mlflow_command(state: TeamState, layout: Layout, workers: int) -> list[str]:
    # --serve-artifacts is MLflow 3's default: clients send artifacts through the server, which
    # writes them to --artifacts-destination. The default allowed hosts (localhost, 127.0.0.1,
    # [::1] on any port) admit loopback clients; --allowed-hosts is for serving other machines.
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        state.database_url("mlflow"),
        "--artifacts-destination",
        str(layout.artifacts),
        "--host",
        LOOPBACK,
        "--port",
        str(state.mlflow_port),
        "--workers",
        str(workers),
    ]


def start_mlflow(state: TeamState, layout: Layout, settings: TeamSettings) -> int:
    layout.artifacts.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PGPASSFILE": str(layout.pgpass),
        # The job runner serves GenAI jobs (judges, optimisers); sweeps need none of it.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true"),
        # mlflow execs uvicorn from the interpreter's folder
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    with open(layout.mlflow_log, "ab") as log:
        proc = subprocess.Popen(
            mlflow_command(state, layout, settings.mlflow_workers),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=layout.root,
            env=env,
            start_new_session=True,  # its own process group: stopped as one, by this PID
        )
    deadline = time.monotonic() + settings.timeout
    probe = f"{state.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SegmentationError(
                f"the MLflow server exited with code {proc.returncode} while starting; "
                f"{layout.mlflow_log} ends with:\n{_tail(layout.mlflow_log)}"
            )
        if _http_ok(f"{state.tracking_uri}/health") and _http_ok(probe):
            proc.returncode = 0  # detached on purpose: no "still running" warning at exit
            return proc.pid
        time.sleep(0.25)
    stop_mlflow(replace(state, mlflow_pid=proc.pid), settings.timeout)
    raise SegmentationError(
        f"the MLflow server did not answer on {state.tracking_uri} within {settings.timeout:.0f}"
        f" s; {layout.mlflow_log} ends with:\n{_tail(layout.mlflow_log)}"
    )


def is_mlflow_server(pid: int | None, port: int) -> bool:
    """The PID is alive and is the `mlflow server` on `port` (not a recycled PID)."""
    if not pid_alive(pid):
        return False
    args = _cmdline(pid)
    return "mlflow" in args and "server" in args and str(port) in args


def stop_mlflow(state: TeamState, timeout: float) -> bool:
    """SIGTERM to the server's process group, SIGKILL to whatever is left after `timeout`."""
    pid = state.mlflow_pid
    if not is_mlflow_server(pid, state.mlflow_port):
        return False
    assert pid is not None
    for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGKILL for whatever ignored SIGTERM
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and group_members(pid):
            _reap(pid)
            time.sleep(0.1)
        _reap(pid)
        if not group_members(pid):
            return True
    raise SegmentationError(
        f"processes {group_members(pid)} of the MLflow server (group {pid}) survived SIGKILL."
    )


# --- the commands ----------------------------------------------------------------------------


def start(settings: TeamSettings) -> TeamState:
    """Start both servers (creating the cluster, role and databases on first use)."""
    root = settings.root.resolve()
    layout = Layout(root)
    previous = load_state(root)
    if previous is not None and all(s.running for s in status(root)):
        return previous
    pg_bin = find_pg_bin(settings.pg_bin or (Path(previous.pg_bin) if previous else None))
    owner = cluster_owner()
    root.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chmod(root, stat.S_IMODE(root.stat().st_mode) | 0o711)
    check_reachable(layout.postgres, owner)
    creds = init_cluster(layout, pg_bin, owner, settings.timeout)
    pg_pid = postgres_pid(layout)
    pg_port = previous.postgres_port if previous and pg_pid else None
    if pg_pid is None:
        pg_port = free_port(previous.postgres_port if previous else None)
        pg_pid = start_postgres(layout, pg_bin, owner, pg_port, settings.timeout)
    assert pg_port is not None
    state = TeamState(
        root=str(root),
        pg_bin=str(pg_bin),
        user=creds.user,
        postgres_port=pg_port,
        postgres_pid=pg_pid,
        mlflow_port=previous.mlflow_port if previous else 0,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    ensure_databases(state, creds, settings.timeout)
    if previous is not None and is_mlflow_server(previous.mlflow_pid, previous.mlflow_port):
        state = replace(state, mlflow_pid=previous.mlflow_pid)
    else:
        state = replace(state, mlflow_port=free_port(state.mlflow_port or None))
        save_state(state)  # PostgreSQL can be stopped even if the MLflow server fails
        state = replace(state, mlflow_pid=start_mlflow(state, layout, settings))
    save_state(state)
    return state


def stop(root: Path, timeout: float = TeamSettings.timeout) -> list[str]:
    """Stop both servers by PID; the cluster, its data and the ports stay for the next start."""
    root = root.resolve()
    state = require_state(root)
    layout = Layout(root)
    done = []
    if stop_mlflow(state, timeout):
        done.append(f"MLflow server stopped (pid {state.mlflow_pid})")
    pg_pid = postgres_pid(layout)
    if stop_postgres(layout, Path(state.pg_bin), cluster_owner(), timeout):
        done.append(f"PostgreSQL stopped (pid {pg_pid})")
    save_state(replace(state, postgres_pid=None, mlflow_pid=None))
    return done or ["nothing was running"]


def status(root: Path) -> list[ServiceStatus]:
    root = root.resolve()
    state = require_state(root)
    layout = Layout(root)
    pg_pid = postgres_pid(layout)
    pg_answering = False
    if pg_pid is not None:
        with (
            contextlib.suppress(OSError),
            socket.create_connection((LOOPBACK, state.postgres_port), timeout=2),
        ):
            pg_answering = True
    ml_running = is_mlflow_server(state.mlflow_pid, state.mlflow_port)
    ml_answering = ml_running and _http_ok(f"{state.tracking_uri}/health")
    databases = "{" + ",".join(DATABASES) + "}"
    return [
        ServiceStatus(
            "postgres", pg_pid, pg_pid is not None, pg_answering, state.masked_url(databases)
        ),
        ServiceStatus(
            "mlflow",
            state.mlflow_pid if ml_running else None,
            ml_running,
            ml_answering,
            f"{state.tracking_uri} (artifacts in {layout.artifacts})",
        ),
    ]


def env_lines(root: Path) -> list[str]:
    """Shell lines a worker evaluates: the tracking URI and the Optuna storage (with password)."""
    root = root.resolve()
    state = require_state(root)
    creds = load_credentials(root)
    if creds is None:
        raise SegmentationError(f"{Layout(root).secrets} is missing: the passwords are lost.")
    from shlex import quote as shell_quote

    return [
        f"export MLFLOW_TRACKING_URI={shell_quote(state.tracking_uri)}",
        f"export OPTUNA_STORAGE={shell_quote(state.database_url('optuna', creds.password))}",
    ]

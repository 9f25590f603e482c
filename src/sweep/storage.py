"""Where a sweep's Optuna study lives, opened so that several processes can share it, and the
claim that lets exactly one of them finalise the sweep.

``sweep.storage`` takes

- ``sqlite:///<path>``: Optuna's RDB storage on a SQLite file (the default, ``optuna.db`` beside
  the MLflow sqlite store). Every process sharing it runs on this machine, so a trial whose
  process died is found by its process id (see ``src.sweep.shared``), not by heartbeat.
- ``journal:<path>``: Optuna's ``JournalFileBackend`` (a local log file; no server, no SQLite).
- any other SQLAlchemy URL (``postgresql://user:pass@host/db``): Optuna's RDB storage with
  heartbeats, so another worker fails and retries the trial of a worker that died.

Files are checked before Optuna opens them, so a read-only folder, a read-only store or a file
that is not a database is named in one message instead of SQLAlchemy's (a read-only existing
store otherwise surfaces as Optuna's misleading "exceeding max length"). A new SQLite store is
created under a file lock: processes starting at once on an empty file otherwise race on the
table creation.

Claims (who finalises): a PostgreSQL advisory lock on its own connection, a ``flock`` on a lock
file beside a SQLite or journal file, else a marker study ``<study>:finalise``. The first two are
released by the operating system or the server when their holder dies, so another process can
take the finalisation over; the marker study stays behind (``sweep.resume=true`` takes over).
"""

from __future__ import annotations

import fcntl
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from src.errors import SegmentationError

if TYPE_CHECKING:  # imported when a storage is opened: the tracking probe needs no Optuna
    import optuna

JOURNAL = "journal:"
SQLITE = "sqlite:///"
# Seconds a SQLite connection waits for another process's write lock before "database is
# locked" (Python's default is 5 s; several sweep processes write one file at once).
SQLITE_BUSY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Heartbeat:
    """Optuna's heartbeat for server storages: a trial not heard of for ``grace_period`` seconds
    is failed by another worker and retried up to ``max_retry`` times."""

    interval: int
    grace_period: int
    max_retry: int


def sqlite_file(url: str) -> Path | None:
    if url.startswith(SQLITE) and url[len(SQLITE) :] not in ("", ":memory:"):
        return Path(url[len(SQLITE) :].split("?", 1)[0])
    return None


def journal_file(url: str) -> Path | None:
    return Path(url[len(JOURNAL) :]) if url.startswith(JOURNAL) else None


def local_file(url: str) -> Path | None:
    """The file of a storage that lives on this machine (SQLite or journal), else None."""
    return sqlite_file(url) or journal_file(url)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql:", "postgresql+", "postgres:"))


def lock_path(store: Path, purpose: str) -> Path:
    """``optuna.db`` -> ``optuna.db.<purpose>.lock`` beside it."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", purpose)
    return store.with_name(f"{store.name}.{safe}.lock")


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path`` for the block; yields False when ``blocking`` is off
    and another process holds it. Released by the OS if the holder dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def check_store_file(path: Path, what: str, setting: str) -> None:
    """Fail with the file and the fix when a store file cannot be created, read or written."""
    folder = path.parent
    if not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SegmentationError(
                f"Cannot create the folder {folder} for the {what} {path}: {exc.strerror}. "
                f"Create it, or point {setting} at a writable place."
            ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SegmentationError(
            f"The folder {folder} of the {what} {path} is read-only: SQLite writes the store and "
            f"its journal there. Make the folder writable, or point {setting} at a writable "
            "place."
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise SegmentationError(
            f"The {what} {path} is read-only (a sweep writes every trial to it). Make it "
            f"writable (chmod u+w {path}), or point {setting} at another store."
        )
    if path.exists() and path.is_dir():
        raise SegmentationError(f"The {what} {path} is a folder; {setting} must name a file.")


def store_error(path: Path, what: str, exc: BaseException, setting: str) -> SegmentationError:
    """One message for a store file SQLite cannot use (corrupt, locked, read-only)."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if "not a database" in reason or "malformed" in reason:
        return SegmentationError(
            f"The {what} {path} is not a usable SQLite database ({reason}). Move it aside "
            f"(mv {path} {path}.broken) to start a new store, or restore it from a backup."
        )
    if "readonly" in reason or "read-only" in reason:
        return SegmentationError(
            f"The {what} {path} is read-only ({reason}). Make it and its folder writable, or "
            f"point {setting} at another store."
        )
    return SegmentationError(f"Cannot open the {what} {path}: {reason}.")


def open_storage(
    url: str,
    heartbeat: Heartbeat | None = None,
    on_stale: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
) -> optuna.storages.BaseStorage:
    """The Optuna storage behind ``url`` (see the module docstring for the kinds)."""
    import optuna
    import sqlalchemy.exc

    setting = "sweep.storage"
    if (journal := journal_file(url)) is not None:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

        check_store_file(journal, "Optuna journal", setting)
        path = str(journal)
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    if (db := sqlite_file(url)) is not None:
        check_store_file(db, "Optuna store", setting)
        try:
            # Processes opening a new file at once race on creating its tables.
            with file_lock(lock_path(db, "open")):
                return optuna.storages.RDBStorage(
                    url, engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
                )
        except (sqlalchemy.exc.SQLAlchemyError, ValueError, RuntimeError) as exc:
            raise store_error(db, "Optuna store", exc, setting) from None
    kwargs = {}
    if heartbeat is not None:
        kwargs = {
            "heartbeat_interval": heartbeat.interval,
            "grace_period": heartbeat.grace_period,
            "heartbeat_stale_trial_callback": on_stale,
        }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, **kwargs)
    except ImportError as exc:
        raise SegmentationError(
            f"No database driver for sweep.storage={mask(url)} ({exc}). For PostgreSQL install "
            "the team extra: .venv/bin/pip install -e '.[team]'."
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SegmentationError(
            f"Cannot open the Optuna storage {mask(url)}: {reason}. Check that the database "
            "server runs (make team-status) and the URL (python -m src.team env prints it)."
        ) from None


_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^\s/]+@")


def mask(text: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``, for every URL
    in ``text`` (a URL, a YAML document, a message)."""
    return _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)


# --- who finalises -----------------------------------------------------------------------------


class Claim:
    """Held by the one process that finalises a study; :meth:`release` when done."""

    def release(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class _FileClaim(Claim):
    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _AdvisoryClaim(Claim):
    def __init__(self, connection, key: str):
        self.connection, self.key = connection, key

    def release(self) -> None:
        if self.connection is not None:
            with suppress(Exception):
                self.connection.close()  # the session's advisory locks go with it
            self.connection = None


class _MarkerClaim(Claim):
    def release(self) -> None:
        pass  # the marker study stays: it records that the study was claimed


def try_claim(url: str, study_name: str) -> Claim | None:
    """Claim the finalisation of ``study_name``; None when another process holds it."""
    import optuna

    if (store := local_file(url)) is not None:
        path = lock_path(store, f"{study_name}.finalise")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return _FileClaim(fd, path)
    if is_postgres(url):
        import sqlalchemy

        engine = sqlalchemy.create_engine(
            url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool
        )
        connection = engine.connect()
        got = connection.execute(
            sqlalchemy.text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"),
            {"key": f"segmentation-finalise:{study_name}"},
        ).scalar()
        if got:
            return _AdvisoryClaim(connection, study_name)
        connection.close()
        return None
    try:
        optuna.create_study(study_name=f"{study_name}:finalise", storage=url)
    except optuna.exceptions.DuplicatedStudyError:
        return None
    return _MarkerClaim()


def release_marker(url: str, study_name: str) -> None:
    """Drop the claim a dead finaliser left behind (marker studies only), for a resume."""
    import optuna

    if local_file(url) is None and not is_postgres(url):
        with suppress(KeyError):
            optuna.delete_study(study_name=f"{study_name}:finalise", storage=url)


def remove_claim_file(url: str, study_name: str) -> None:
    """Tidy the finalise lock file of a finalised study (a late claimer then finds the study
    finalised and stops)."""
    if (store := local_file(url)) is not None:
        with suppress(OSError):
            lock_path(store, f"{study_name}.finalise").unlink()


def wait_for(predicate: Callable[[], object], timeout: float, poll: float) -> object:
    """Poll ``predicate`` until it returns something truthy or ``timeout`` seconds pass."""
    from src.errors import interruptible

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        with interruptible():
            time.sleep(poll)

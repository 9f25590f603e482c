"""A file or folder that is read-only for a command, whoever runs the tests.

An ordinary user gets it by ``chmod``. Root writes through any mode, so for root the path is
bind-mounted read-only in a private mount namespace of that one command (``unshare --mount``):
the kernel then answers EROFS to root as to anyone, which is what a store on a read-only volume
meets. Running the command as ``nobody`` instead does not work wherever the interpreter lives in
root's home (``/root`` is 0700, so ``nobody`` cannot start the project's Python).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# sh -c SCRIPT PATH COMMAND...: $0 is the path, "$@" the command, run once the mount is made.
_BIND_READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
# Root with CAP_SYS_ADMIN first; else a user namespace where this user is root.
_NAMESPACES = (["--mount"], ["--user", "--map-root-user", "--mount"])


def _read_only_prefix(path: Path) -> list[str]:
    """The command prefix that runs a command with ``path`` bind-mounted read-only."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is needed to make a path read-only for root")
    errors = []
    for flags in _NAMESPACES:
        prefix = [unshare, *flags, "sh", "-c", _BIND_READ_ONLY, str(path)]
        probe = subprocess.run(
            [*prefix, "sh", "-c", f'! touch "{path}" 2>/dev/null'],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if probe.returncode == 0:
            return prefix
        errors.append(f"unshare {' '.join(flags)}: {probe.stderr.strip() or probe.returncode}")
    pytest.fail(
        "As root, a read-only store is made with a read-only bind mount in a private mount "
        f"namespace, which this machine refuses ({'; '.join(errors)}). Run the tests as an "
        "ordinary user, or where root may use unshare --mount."
    )


@contextmanager
def read_only(path: Path) -> Iterator[list[str]]:
    """``path`` (an existing file or folder) read-only for the commands run with the prefix
    this yields; the path is writable again afterwards."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o500 if path.is_dir() else 0o400)
        try:
            yield []
        finally:
            path.chmod(mode)
        return
    yield _read_only_prefix(path)

"""A sweep killed with SIGKILL leaves no drawing process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from src.config import PROJECT_ROOT

SWEEP_WITH_A_DRAWER = """
import time
from src.viz.background import Background, warm_up
background = Background()
background.drawer.submit(warm_up).result()
print(*background.drawer._processes, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie no one reaps (PID 1 in a container) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_the_drawing_process_ends_when_the_sweep_is_killed():
    proc = subprocess.Popen(
        [sys.executable, "-c", SWEEP_WITH_A_DRAWER],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    drawer = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    try:
        # The caller reading the sweep's output gets to its end: no process holds the pipes.
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while alive(drawer) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(drawer)
    finally:
        if alive(drawer):
            os.kill(drawer, signal.SIGKILL)  # the process this test started, by its PID

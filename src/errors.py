"""User-facing errors and interrupts: one paragraph on stderr and a non-zero exit, never a
traceback; Ctrl-C stops at a point where both stores agree and exits 130.

Interrupts: Python raises ``KeyboardInterrupt`` at whatever bytecode runs when Ctrl-C arrives,
which may be in the middle of Optuna's ``tell`` (leaving a trial half-recorded) or of a model
registration. :func:`handle_interrupts` installs a SIGINT handler for a job; inside
:func:`deferred` blocks a Ctrl-C is only noted, and raised where the work can stop cleanly: when
the block ends, or on entering an :func:`interruptible` block (a fit, a wait). Later Ctrl-Cs
while the job stops are ignored, so its clean-up (ending the runs) is never cut short.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable)


class SegmentationError(Exception):
    """Bad input or configuration: the message says what is wrong, where, and how to fix it."""


class InvalidParameterError(SegmentationError, ValueError):
    """A hyperparameter from the pipeline config is out of range.

    A ValueError for scikit-learn conventions and a SegmentationError so the CLI prints one line.
    """


def report_user_errors(func: F) -> F:
    """Turn a SegmentationError escaping a CLI entry point into a message and exit code 2; a
    required option left without a value (``???`` in the config) likewise."""
    from omegaconf.errors import MissingMandatoryValue

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SegmentationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        except MissingMandatoryValue as exc:
            print(f"error: {missing_value_message(exc)}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)

    return wrapper  # type: ignore[return-value]


def missing_value_message(exc: Exception) -> str:
    """What to type for a required option that has no value (OmegaConf's MissingMandatoryValue
    names the key; its own text is a traceback-style paragraph about structured configs)."""
    key = getattr(exc, "full_key", None) or getattr(exc, "key", None) or "an option"
    return (
        f"{key} is required and has no value. Give it on the command line ({key}=...); "
        "`--cfg job` prints the composed config and `--help` the options."
    )


class _Interrupts:
    """The state behind the SIGINT handler (one per process; signals reach the main thread)."""

    def __init__(self) -> None:
        self.installed = False
        self.previous = signal.default_int_handler
        self.deferring = 0  # depth of deferred() blocks
        self.allowing = 0  # depth of interruptible() blocks inside them
        self.pending = False  # a Ctrl-C arrived inside a deferred block, not raised yet
        self.delivered = False  # a KeyboardInterrupt was raised: the job is stopping

    def handler(self, signum, frame) -> None:
        if self.delivered or self.pending:
            return  # the job is already stopping; let its clean-up finish
        if self.deferring and not self.allowing:
            self.pending = True
            return
        self.delivered = True
        raise KeyboardInterrupt

    def raise_pending(self) -> None:
        if self.pending and not self.delivered:
            self.pending = False
            self.delivered = True
            raise KeyboardInterrupt


_state = _Interrupts()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def handle_interrupts() -> Iterator[None]:
    """Install the SIGINT handler for one job (main thread only; elsewhere a no-op).

    After an interrupt the handler stays installed, so a second Ctrl-C during the interpreter's
    shutdown (joining the writer thread) prints no "Exception ignored" traceback; the next job
    in the same process starts with a clean state.
    """
    if not _main_thread():
        yield
        return
    if not _state.installed:
        _state.previous = signal.signal(signal.SIGINT, _state.handler)
        _state.installed = True
    _state.delivered = _state.pending = False
    _state.deferring = _state.allowing = 0
    try:
        yield
    finally:
        if not _state.delivered:
            signal.signal(signal.SIGINT, _state.previous)
            _state.installed = False
            _state.pending = False


@contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C inside the block is raised when the block ends (or at an interruptible point)."""
    if not _main_thread():
        yield
        return
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if _state.deferring == 0:
        _state.raise_pending()


@contextmanager
def interruptible() -> Iterator[None]:
    """A block Ctrl-C may stop at once, even inside a deferred one (a fit, a wait)."""
    if not _main_thread():
        yield
        return
    _state.raise_pending()
    _state.allowing += 1
    try:
        yield
    finally:
        _state.allowing -= 1


def check_interrupt() -> None:
    """Raise a Ctrl-C noted in a deferred block, here, where stopping is clean."""
    if _main_thread():
        _state.raise_pending()


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Processes started inside inherit an ignored SIGINT (a helper process that the job stops
    itself, so a terminal's Ctrl-C does not print its traceback)."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

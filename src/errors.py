"""User-facing errors: one paragraph on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

EXIT_USER_ERROR = 2

F = TypeVar("F", bound=Callable)


class SegmentationError(Exception):
    """Bad input or configuration: the message says what is wrong, where, and how to fix it."""


class InvalidParameterError(SegmentationError, ValueError):
    """A hyperparameter from the pipeline config is out of range.

    A ValueError for scikit-learn conventions and a SegmentationError so the CLI prints one line.
    """


def report_user_errors(func: F) -> F:
    """Turn a SegmentationError escaping a CLI entry point into a message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SegmentationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)

    return wrapper  # type: ignore[return-value]

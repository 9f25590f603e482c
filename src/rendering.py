"""Figures rendered in a separate process while the sweep computes.

Matplotlib holds the GIL for most of its drawing, so rendering on a thread slows the fits and
silhouettes of the main thread; a worker process draws on the other core instead. Everything
here is a top-level function of picklable arguments, returning PNG bytes (or None).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any


def warm_up() -> None:
    """Import the plotting stack in the worker while the main process loads data."""
    import src.plots  # noqa: F401


def png(figure: str, *args: Any, **kwargs: Any) -> bytes | None:
    """Draw `src.plots.<figure>(*args, **kwargs)` and return it as PNG bytes."""
    from src import plots

    fig = getattr(plots, figure)(*args, **kwargs)
    return None if fig is None else plots.figure_to_png_bytes(fig)


def optuna_png(figure: str, trials: list, directions: list[str]) -> bytes | None:
    """An Optuna figure of a copy of the study (the worker cannot share its storage)."""
    import optuna

    from src import plots

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=directions)
    study.add_trials(trials)
    fig = getattr(plots, figure)(study)
    return None if fig is None else plots.figure_to_png_bytes(fig)


class Background:
    """A drawing process plus a writer thread that logs what it draws.

    Failures never stop a sweep: they are collected and reported as warnings at the end.
    """

    def __init__(self, draw_in_process: bool = True):
        self.failures: list[str] = []
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="artifacts")
        self.drawer = None
        if draw_in_process:
            ctx = multiprocessing.get_context("spawn")
            self.drawer = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
            self.drawer.submit(warm_up)

    def draw(self, what: str, fn, *args, **kwargs) -> Future:
        """Run a drawing function (from this module) in the worker; the future gives PNG bytes."""
        if self.drawer is None:
            return self.writer.submit(self._guard, what, fn, *args, **kwargs)
        return self.drawer.submit(fn, *args, **kwargs)

    def write(self, what: str, fn, *args) -> Future:
        """Run an I/O job (e.g. an MLflow artifact upload) on the writer thread."""
        return self.writer.submit(self._guard, what, fn, *args)

    def result(self, what: str, future: Future) -> Any:
        try:
            return future.result()
        except Exception as exc:
            self.failures.append(f"{what}: {type(exc).__name__}: {exc}")
            return None

    def _guard(self, what: str, fn, *args, **kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # an artifact must never sink the sweep
            self.failures.append(f"{what}: {type(exc).__name__}: {exc}")
            return None

    def close(self) -> list[str]:
        self.writer.shutdown(wait=True)
        if self.drawer is not None:
            self.drawer.shutdown(wait=True)
        return self.failures

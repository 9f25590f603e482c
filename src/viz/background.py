"""Figures rendered in a separate process while the sweep computes, and the threads that
write to the tracking store meanwhile.

Matplotlib holds the GIL for most of its drawing, so rendering on a thread slows the fits and
silhouettes of the main thread; a worker process draws on the other core instead. Everything
here is a top-level function of picklable arguments, returning PNG bytes (or None).

Two writer threads: one for records a caller waits for (a trial's child run, which must be in
the store before Optuna hears of the trial), one for artifacts nobody waits for (a trial's radar
chart, which waits for its drawing, and its pipeline). A record never queues behind artifacts.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

FIGURE_MODULES = ("profiles", "choosing_k", "scatter", "optuna", "eda", "heatmaps")


def exit_with(parent: int) -> None:
    """Drawing-process initializer: end this process once ``parent`` is gone. A sweep killed
    with SIGKILL cannot shut its pool down, and the pool's worker would otherwise wait for work
    forever (holding the terminal's or the caller's output pipes open)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def warm_up() -> None:
    """Import the plotting stack in the worker while the main process loads data."""
    for name in FIGURE_MODULES:
        importlib.import_module(f"src.viz.{name}")


def figure_function(name: str):
    """``"profiles.radar_chart"`` -> the function ``src.viz.profiles.radar_chart``.

    Figures are named rather than passed as functions so the main process never imports
    matplotlib: the worker resolves the name.
    """
    module, _, function = name.partition(".")
    if module not in FIGURE_MODULES or not function:
        raise ValueError(f"{name!r} is not a figure of src.viz ({', '.join(FIGURE_MODULES)})")
    return getattr(importlib.import_module(f"src.viz.{module}"), function)


def png(figure: str, *args: Any, **kwargs: Any) -> bytes | None:
    """Draw ``figure`` (e.g. ``"profiles.radar_chart"``) and return it as PNG bytes."""
    from src.viz.style import to_png

    fig = figure_function(figure)(*args, **kwargs)
    return None if fig is None else to_png(fig)


def optuna_png(figure: str, trials: list, directions: list[str]) -> bytes | None:
    """An Optuna figure of a copy of the study (the worker cannot share its storage)."""
    import optuna

    from src.viz.style import to_png

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=directions)
    study.add_trials(trials)
    fig = figure_function(figure)(study)
    return None if fig is None else to_png(fig)


class Background:
    """A drawing process plus a writer thread that logs what it draws, and a records thread.

    Failures never stop a sweep: they are collected and reported as warnings at the end.
    """

    def __init__(self, draw_in_process: bool = True):
        self.failures: list[str] = []
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="artifacts")
        self.records = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
        self.drawer = None
        if draw_in_process:
            ctx = multiprocessing.get_context("spawn")
            self.drawer = ProcessPoolExecutor(
                max_workers=1, mp_context=ctx, initializer=exit_with, initargs=(os.getpid(),)
            )
            self.drawer.submit(warm_up)

    def draw(self, what: str, fn, *args, **kwargs) -> Future:
        """Run a drawing function (from this module) in the worker; the future gives PNG bytes."""
        if self.drawer is None:
            return self.writer.submit(self._guard, what, fn, *args, **kwargs)
        return self.drawer.submit(fn, *args, **kwargs)

    def write(self, what: str, fn, *args) -> Future:
        """Run an I/O job (e.g. an MLflow artifact upload) on the writer thread."""
        return self.writer.submit(self._guard, what, fn, *args)

    def record(self, what: str, fn, *args) -> Future:
        """Run a store write that someone will wait for (e.g. a trial's child run) on the
        records thread: in order with the other records, never behind an artifact job."""
        return self.records.submit(self._guard, what, fn, *args)

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
        self.records.shutdown(wait=True)
        self.writer.shutdown(wait=True)
        if self.drawer is not None:
            self.drawer.shutdown(wait=True)
        return self.failures


def draw_sweep_figures(
    background: Background,
    *,
    profile,
    names,
    features,
    labels,
    X_eval,
    curve,
    knee,
    chosen_k,
    silhouette_sample,
    silhouette,
    trials,
    directions,
) -> dict:
    """Start every figure of a finished sweep in the drawing process; FigureId -> future.

    ``profile`` holds the segment means (one row per segment), ``silhouette_sample`` the
    (row indices, per-row values) of the silhouette diagram, ``trials``/``directions`` a copy of
    the study for the Optuna figures.
    """
    from src.result import FigureId

    idx, sil_values = silhouette_sample
    jobs = {
        FigureId.RADAR: (png, "profiles.radar_chart", profile, names, features),
        FigureId.RADAR_GRID: (png, "profiles.radar_grid", profile, names, features),
        FigureId.SIZES: (png, "profiles.cluster_size_bars", labels, names),
        FigureId.MEANS: (png, "profiles.cluster_mean_bars", profile, names),
        FigureId.ELBOW: (
            png,
            "choosing_k.elbow_plot",
            curve["k"],
            curve["inertia"],
            knee,
            chosen_k,
        ),
        FigureId.SILHOUETTE_VS_K: (
            png,
            "choosing_k.silhouette_vs_k",
            curve["k"],
            curve["silhouette"],
            chosen_k,
            knee,
        ),
        FigureId.SILHOUETTE_DIAGRAM: (
            png,
            "choosing_k.silhouette_diagram",
            sil_values,
            labels[idx],
            names,
            silhouette,
        ),
        FigureId.PCA: (png, "scatter.pca_scatter", X_eval, labels, names),
        FigureId.SCATTER_3D: (png, "scatter.scatter_3d", features, labels, names),
        FigureId.SCATTER_MATRIX: (png, "scatter.scatter_matrix", features, labels, names),
        FigureId.OPTUNA_HISTORY: (optuna_png, "optuna.optuna_history", trials, directions),
        FigureId.OPTUNA_IMPORTANCES: (optuna_png, "optuna.optuna_importances", trials, directions),
    }
    return {figure: background.draw(figure.value, *job) for figure, job in jobs.items()}

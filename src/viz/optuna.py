"""The sweep itself: score per trial and which settings mattered."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import optuna
from matplotlib.figure import Figure

from src.viz.style import (
    DPI,
)


def _finish_optuna_figure(ax, title: str) -> Figure:
    fig = ax.figure
    fig.set_dpi(DPI)
    fig.set_size_inches(8.0, 4.8)
    ax.set_title("")  # Optuna's generic centred title
    ax.set_title(title, fontsize=13, fontweight="bold", loc="left")
    fig.tight_layout()
    return fig


def _target_name(study: optuna.Study, target_name: str | None) -> str:
    if target_name:
        return target_name
    return study.metric_names[0] if study.metric_names else "Objective value"


def optuna_history(study: optuna.Study, *, target_name: str | None = None) -> Figure:
    """Score per trial and best so far; for multi-objective studies, the first objective."""
    from optuna.visualization.matplotlib import plot_optimization_history

    name = _target_name(study, target_name)
    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    # Optuna switches the global style to ggplot; the rc context keeps that to this figure.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = plot_optimization_history(study, target=target, target_name=name)
        ax.set_xlabel("Trial")
        ax.set_ylabel(name)
        return _finish_optuna_figure(ax, "Sweep progress: score per trial and best so far")


def _varying_params(trials: list) -> list[str]:
    seen: dict[str, set] = {}
    for trial in trials:
        for name, value in trial.params.items():
            seen.setdefault(name, set()).add(repr(value))
    return sorted(name for name, values in seen.items() if len(values) > 1)


def optuna_importances(
    study: optuna.Study,
    evaluator: optuna.importance.BaseImportanceEvaluator | None = None,
    *,
    target_name: str | None = None,
) -> Figure | None:
    """Which sweep settings moved the score most; None when there is nothing to compare.

    Needs two or more finished trials with different scores and at least two settings that took
    more than one value (a single varying setting would trivially get 100%). Constant settings are
    left out. PED-ANOVA is the default evaluator: offline, fast, and handles conditional settings.
    """
    from optuna.trial import TrialState
    from optuna.visualization.matplotlib import plot_param_importances

    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.values is not None and np.all(np.isfinite(t.values))
    ]
    params = _varying_params(trials)
    distinct_scores = {tuple(t.values) for t in trials}
    if len(trials) < 2 or len(distinct_scores) < 2 or len(params) < 2:
        return None
    evaluator = evaluator or optuna.importance.PedAnovaImportanceEvaluator()
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            ax = plot_param_importances(
                study,
                evaluator=evaluator,
                params=params,
                target_name=_target_name(study, target_name),
            )
        except RuntimeError as exc:
            # fANOVA raises this when its trees see no variance in the score.
            if "zero total variance" in str(exc):
                return None
            raise
        if len(study.directions) == 1 and ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.set_xlabel("Relative importance (all settings sum to 1)")
        ax.set_ylabel("Sweep setting")
        return _finish_optuna_figure(ax, "Which sweep settings mattered most")

"""The running Hydra job: where the user started it, its output folder, overrides and choices.

Every function answers sensibly outside ``@hydra.main`` too (tests, notebooks): no job means the
current folder, no output folder, no overrides and no group choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def hydra_job():
    """The running Hydra job's config, or None outside `@hydra.main` (tests, notebooks)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return HydraConfig.get()
    except ValueError:
        return None


def original_cwd() -> Path:
    """Where the user started the command (Hydra may run jobs elsewhere)."""
    hc = hydra_job()
    return Path.cwd() if hc is None else Path(hc.runtime.cwd)


def output_dir() -> Path | None:
    """The job's output folder (outputs/<experiment>/<date>_<time>), or None outside Hydra."""
    hc = hydra_job()
    return None if hc is None else Path(hc.runtime.output_dir)


def task_overrides() -> list[str]:
    """The overrides the user typed, e.g. ``["+experiment=lrfmc", "sweep.n_trials=5"]``."""
    hc = hydra_job()
    return [] if hc is None else list(hc.overrides.task)


def runtime_choices() -> dict[str, str]:
    """The option Hydra composed for each config group, e.g. ``{"scaler": "log_standard"}``."""
    hc = hydra_job()
    return {} if hc is None else dict(hc.runtime.choices)


def enum_value(value: Any) -> str:
    return value.value if hasattr(value, "value") else str(value)


def plain(cfg: Any) -> dict:
    """A config node as plain Python containers (enums as their values)."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    return dict(cfg or {})

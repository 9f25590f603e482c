"""Configuration: where conf/ lives, the typed schemas registered with Hydra, composing a config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"


def register_configs() -> None:
    """Make the schemas available to the defaults lists (`base_config`, `base_predict`, ...)."""
    from hydra.core.config_store import ConfigStore

    from src.config.schema import CompareConfig, Config, MigrateConfig, PredictConfig

    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(name="base_predict", node=PredictConfig)
    cs.store(name="base_migrate", node=MigrateConfig)
    cs.store(name="base_compare", node=CompareConfig)


def group_options(group: str) -> list[str]:
    """The config names available in a group folder, e.g. the scalers a sweep may try."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose_config(config: str = "config", *overrides: str):
    """Compose a config from conf/ as the command line would (for notebooks and tests).

    Example: ``compose_config("config", "+experiment=lrfmc", "sweep.n_trials=5")``.
    """
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config, overrides=list(overrides))


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> dotted keys (MLflow params are flat; report tables list them so)."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out

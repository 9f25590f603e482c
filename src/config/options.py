"""Read a group option other than the one Hydra composed (the sweep tries several per group)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from src.config import CONF_DIR, group_options
from src.errors import SegmentationError


def option_config(cfg: DictConfig, group: str, name: str) -> DictConfig:
    """The config of one option of a group (e.g. scaler/robust), interpolated against `cfg`.

    The sweep needs options other than the one Hydra composed, so they are read from `conf/`
    directly and resolved in the context of the running config (for `${seed}` and the like).
    """
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.exists():
        raise SegmentationError(
            f"Unknown {group} option '{name}' in sweep.search_space.{group}. "
            f"Valid choices: {', '.join(group_options(group))}. "
            f"Add a file conf/{group}/{name}.yaml to define a new one."
        )
    root = OmegaConf.to_container(cfg, resolve=False)
    root[group] = OmegaConf.to_container(OmegaConf.load(path))
    merged = OmegaConf.create(root)
    return OmegaConf.create(OmegaConf.to_container(merged[group], resolve=True))

"""The search space: which options of each swept group a sweep may try, and the k range."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig

from src.config.options import option_config
from src.config.runtime import runtime_choices
from src.errors import SegmentationError
from src.model.pipeline import SWEPT_GROUPS, build_pipeline


@dataclass
class SweepSpace:
    """Choices per swept group, the resolved config of each choice, and the k range."""

    choices: dict[str, list[str]]
    options: dict[str, dict[str, Any]]
    k_low: int
    k_high: int

    def grid(self) -> dict[str, list]:
        g: dict[str, list] = {grp: list(self.choices[grp]) for grp in SWEPT_GROUPS}
        g["k"] = list(range(self.k_low, self.k_high + 1))
        return g

    def size(self) -> int:
        return int(np.prod([len(v) for v in self.grid().values()]))

    def pipeline(self, choice: Mapping[str, Any]):
        """The unfitted Pipeline of one configuration (outliers, scaler, model and k)."""
        return build_pipeline(
            self.options["outliers"][choice["outliers"]],
            self.options["scaler"][choice["scaler"]],
            self.options["model"][choice["model"]],
            choice["k"],
        )


def sweep_space(cfg: DictConfig) -> SweepSpace:
    """Resolve the search space: every listed option must exist in conf/<group>/."""
    choices: dict[str, list[str]] = {}
    options: dict[str, dict[str, Any]] = {}
    runtime = runtime_choices()
    for group in SWEPT_GROUPS:
        listed = list(cfg.sweep.search_space[group] or [])
        if not listed:
            listed = [runtime.get(group) or "__composed__"]
        choices[group] = listed
        options[group] = {
            # The composed option keeps command-line overrides such as model.n_init=5.
            name: (
                cfg[group]
                if name in ("__composed__", runtime.get(group))
                else option_config(cfg, group, name)
            )
            for name in listed
        }
    low, high = int(cfg.sweep.k.low), int(cfg.sweep.k.high)
    if not 2 <= low <= high:
        raise SegmentationError(
            f"sweep.k must satisfy 2 <= low <= high, got low={low}, high={high}."
        )
    return SweepSpace(choices=choices, options=options, k_low=low, k_high=high)

"""The search space: which options of each swept group a sweep may try, and the k range.

``sweep.search_space.<group>`` lists the options the sampler picks from. A group chosen on the
command line (``scaler=robust``, or ``scaler=standard,robust`` in a multirun, one job each)
narrows that group's list to the option chosen, so a multirun really compares its choices;
giving both the group and ``sweep.search_space.<group>`` on one command line is a contradiction
and an error. An empty list means the group's composed option.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig

from src.config.options import option_config
from src.errors import SegmentationError
from src.model.pipeline import build_pipeline
from src.result import SWEPT_GROUPS, Choice

COMPOSED = "__composed__"  # the composed option, when no Hydra job says its name


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

    def ks(self) -> range:
        return range(self.k_low, self.k_high + 1)

    def pipeline(self, choice: Choice):
        """The unfitted Pipeline of one configuration (outliers, scaler, model and k)."""
        return build_pipeline(
            self.options["outliers"][choice.outliers],
            self.options["scaler"][choice.scaler],
            self.options["model"][choice.model],
            choice.k,
        )

    def check_parameters(self) -> None:
        """Validate every option's hyperparameters before the sweep, with scikit-learn's own
        parameter constraints: an invalid one (``model.n_init=-1``) would fail every trial."""
        from sklearn.utils._param_validation import InvalidParameterError

        first = {group: names[0] for group, names in self.choices.items()}
        for group in SWEPT_GROUPS:
            for name in self.choices[group]:
                pipe = self.pipeline(Choice.of({**first, group: name, "k": self.k_low}))
                step = pipe.named_steps[group]
                try:
                    step._validate_params()  # scikit-learn's check, run by fit otherwise
                except InvalidParameterError as exc:
                    where = (
                        f"the {group} group's option"
                        if name == COMPOSED
                        else f"{group} option '{name}'"
                    )
                    raise SegmentationError(
                        f"{where}: {str(exc).splitlines()[0]} Fix it on the command line "
                        f"({group}.<parameter>=...) or in conf/{group}/."
                    ) from None


def command_line_choices(overrides: Sequence[str]) -> dict[str, str]:
    """Swept groups chosen on the command line, e.g. ``{"scaler": "robust"}``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    chosen = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.key_or_group in SWEPT_GROUPS and not override.is_delete():
            chosen[override.key_or_group] = str(override.value())
    return chosen


def _listed_on_command_line(overrides: Sequence[str], group: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    key = f"sweep.search_space.{group}"
    return any(
        o.key_or_group == key for o in OverridesParser.create().parse_overrides(list(overrides))
    )


def sweep_space(
    cfg: DictConfig,
    runtime_choices: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> SweepSpace:
    """Resolve the search space: every listed option must exist in conf/<group>/.

    ``runtime_choices`` are the options Hydra composed (``HydraConfig.runtime.choices``) and
    ``overrides`` the command line's task overrides; both are empty outside a Hydra job.
    """
    runtime = dict(runtime_choices or {})
    given = command_line_choices(overrides)
    choices: dict[str, list[str]] = {}
    options: dict[str, dict[str, Any]] = {}
    for group in SWEPT_GROUPS:
        listed = [str(name) for name in (cfg.sweep.search_space[group] or [])]
        if group in given:
            if _listed_on_command_line(overrides, group):
                raise SegmentationError(
                    f"{group}={given[group]} and sweep.search_space.{group}=... are both on the "
                    f"command line: choose one option with {group}=<option>, or let the sweep "
                    f"pick among several with sweep.search_space.{group}=[a,b], not both."
                )
            listed = [given[group]]
        elif not listed:
            listed = [runtime.get(group) or COMPOSED]
        choices[group] = listed
        options[group] = {
            # The composed option keeps command-line overrides such as model.n_init=5.
            name: (
                cfg[group]
                if name in (COMPOSED, runtime.get(group))
                else option_config(cfg, group, name)
            )
            for name in listed
        }
    return SweepSpace(
        choices=choices, options=options, k_low=int(cfg.sweep.k.low), k_high=int(cfg.sweep.k.high)
    )

"""Customer value figures: P(alive) by segment, lifetime value by segment, and the holdout's
calibration (actual against predicted purchases). Data in, matplotlib Figure out."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from src.errors import SegmentationError
from src.viz.style import (
    as_labels,
    new_figure,
    segment_colours,
    segment_label,
    subtitle,
)


def p_alive_by_segment(
    p_alive, labels, names: Mapping[int, str] | None = None, *, at_risk: float | None = None
) -> Figure:
    """The spread of P(alive) in each segment (box per segment, mean marked)."""
    values = np.asarray(p_alive, dtype=float)
    seg = as_labels(labels)
    if len(values) != len(seg):
        raise SegmentationError(
            f"p_alive has {len(values):,} values and labels {len(seg):,}; pass one of each per "
            "customer."
        )
    ids = sorted({int(s) for s in seg})
    colours = segment_colours(ids)
    fig = new_figure((8.0, 0.5 * len(ids) + 1.9))
    ax = fig.add_subplot()
    groups = [values[seg == s] for s in ids]
    boxes = ax.boxplot(
        groups,
        orientation="horizontal",
        positions=np.arange(len(ids)),
        widths=0.6,
        patch_artist=True,
        showfliers=False,
        showmeans=True,
        meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "0.2"},
        medianprops={"color": "0.2"},
    )
    for patch, s in zip(boxes["boxes"], ids, strict=True):
        patch.set_facecolor(colours[s])
    for pos, group in enumerate(groups):
        ax.text(1.02, pos, f"mean {group.mean():.2f}", va="center", fontsize=8)
    if at_risk is not None:
        ax.axvline(at_risk, color="firebrick", linestyle="--", linewidth=1.0)
        ax.text(
            at_risk, -0.6, f" at risk below {at_risk:g}", color="firebrick", fontsize=8, va="center"
        )
    ax.set_yticks(np.arange(len(ids)), [segment_label(s, names) for s in ids])
    ax.set_ylim(len(ids) - 0.5, -0.9)  # top to bottom, with a line for the threshold's label
    ax.set_xlim(0, 1.18)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel("P(alive) at the snapshot")
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(
        "How likely each segment's customers are still active", fontsize=13, fontweight="bold"
    )
    subtitle(ax, "Box: middle half of the customers, line: median, diamond: mean.")
    return fig


def value_by_segment(table: pd.DataFrame, names: Mapping[int, str] | None = None) -> Figure:
    """Expected lifetime value per segment, the part held by at-risk customers shaded.

    ``table`` is :func:`src.value.segments.segment_value`'s (index: segment id; columns ``clv``
    and ``at_risk_clv``).
    """
    missing = [c for c in ("clv", "at_risk_clv") if c not in table.columns]
    if missing:
        raise SegmentationError(
            f"The segment value table has no column(s) {missing}; build it with "
            "src.value.segments.segment_value."
        )
    ids = [int(s) for s in table.index]
    colours = segment_colours(ids)
    clv = table["clv"].to_numpy(float)
    risk = table["at_risk_clv"].to_numpy(float)
    positions = np.arange(len(ids))
    fig = new_figure((8.0, 0.5 * len(ids) + 1.9))
    ax = fig.add_subplot()
    ax.barh(positions, clv - risk, color=[colours[s] for s in ids], edgecolor="white")
    ax.barh(
        positions,
        risk,
        left=clv - risk,
        color=[colours[s] for s in ids],
        alpha=0.35,
        hatch="//",
        edgecolor="white",
        label="held by at-risk customers",
    )
    total = clv.sum()
    for pos, value in enumerate(clv):
        share = f" ({value / total:.0%})" if total > 0 else ""
        ax.text(value, pos, f" {_money(value)}{share}", va="center", fontsize=8)
    ax.set_yticks(positions, [segment_label(s, names) for s in ids])
    ax.invert_yaxis()
    ax.set_xlim(0, max(clv.max(), 1e-9) * 1.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _money(v)))
    ax.set_xlabel("Expected lifetime value (discounted, currency of the log)")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("What each segment is worth", fontsize=13, fontweight="bold")
    return fig


def _money(value: float) -> str:
    """Amounts as people read them on a chart: 4.83M, 900k, 1,234."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}"


def calibration_figure(
    calibration: pd.DataFrame, *, cutoff=None, days: float | None = None
) -> Figure:
    """Mean actual and predicted holdout purchases per number of repeat purchases in training.

    ``calibration`` is :func:`src.value.holdout.calibration_table`'s (index: training frequency
    bin, the last one open-ended; columns ``customers``, ``actual``, ``predicted`` and
    optionally ``baseline``).
    """
    missing = [c for c in ("customers", "actual", "predicted") if c not in calibration.columns]
    if missing:
        raise SegmentationError(
            f"The calibration table has no column(s) {missing}; build it with "
            "src.value.holdout.calibration_table."
        )
    bins = [int(b) for b in calibration.index]
    labels = [str(b) for b in bins]
    if labels:
        labels[-1] = f"{bins[-1]}+"
    x = np.arange(len(bins))
    fig = new_figure((7.5, 4.4))
    ax = fig.add_subplot()
    ax.plot(x, calibration["actual"], marker="o", color="0.15", label="actual")
    ax.plot(x, calibration["predicted"], marker="s", color="tab:blue", label="model")
    if "baseline" in calibration.columns:
        ax.plot(
            x,
            calibration["baseline"],
            marker="^",
            color="0.6",
            linestyle=":",
            label="baseline (training rate)",
        )
    ax.set_xticks(
        x,
        [f"{lab}\n(n={n:,})" for lab, n in zip(labels, calibration["customers"], strict=True)],
        fontsize=8,
    )
    ax.set_xlabel("Repeat purchase days before the cut-off")
    ax.set_ylabel("Mean purchase days in the holdout")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Holdout: predicted against actual purchases", fontsize=13, fontweight="bold")
    when = []
    if cutoff is not None:
        when.append(f"fitted on purchases before {pd.Timestamp(cutoff).date()}")
    if days is not None:
        when.append(f"holdout of {days:g} days")
    if when:
        subtitle(ax, ", ".join(when).capitalize() + ".")
    return fig

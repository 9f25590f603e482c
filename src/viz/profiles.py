"""Segment profiles: radar charts, mean bars and segment sizes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from src.errors import SegmentationError
from src.viz.style import (
    INVERTED_FEATURES,
    RADAR_LABELS,
    as_labels,
    feature_columns,
    feature_label,
    legend_handles,
    new_figure,
    segment_colours,
    segment_label,
    segment_legend,
    short_number,
    subtitle,
)


def radar_values(
    profile: pd.DataFrame,
    population: pd.DataFrame | None = None,
    features: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Put each segment mean on a 0..1 axis so features with different units share one chart.

    With `population` (one row per customer): the share of customers whose value is below the
    segment mean (ties count half), i.e. its percentile rank. Without it: min-max across segments.
    Recency is flipped (1 - value) so that on every axis outer means the better customer.
    """
    cols = feature_columns(profile, features, "segment profile")
    means = profile[cols].astype(float)
    scaled = {}
    for col in cols:
        values = means[col].to_numpy()
        if population is not None:
            if col not in population.columns:
                raise SegmentationError(
                    f"The population table has no '{col}' column, needed to scale the radar axis "
                    f"for that feature; it has {list(population.columns)}. Pass the customer "
                    "feature table the profile was computed from."
                )
            ref = np.sort(population[col].to_numpy(dtype=float))
            ref = ref[~np.isnan(ref)]
            if ref.size == 0:
                raise SegmentationError(
                    f"The population column '{col}' has no values, so the radar axis cannot be "
                    "scaled. Pass the customer feature table the profile was computed from."
                )
            below = np.searchsorted(ref, values, side="left")
            at_or_below = np.searchsorted(ref, values, side="right")
            axis = (below + at_or_below) / (2.0 * ref.size)
        else:
            low, high = np.nanmin(values), np.nanmax(values)
            axis = np.full_like(values, 0.5) if high == low else (values - low) / (high - low)
        scaled[col] = 1.0 - axis if col in INVERTED_FEATURES else axis
    return pd.DataFrame(scaled, index=profile.index)


def _radar_note(population: pd.DataFrame | None) -> str:
    if population is not None:
        scale = (
            "Each axis: the segment's average as a percentile of all customers "
            "(centre = lowest, edge = highest, 50% ring = typical customer)."
        )
    else:
        scale = (
            "Each axis: the segment's average scaled min-max across segments "
            "(centre = lowest segment, edge = highest)."
        )
    return f"{scale} Recency is reversed so outer = bought more recently."


def _setup_radar_axis(ax, cols: Sequence[str], fontsize: float, pad: float) -> np.ndarray:
    angles = np.linspace(0.0, 2.0 * np.pi, len(cols), endpoint=False)
    ax.set_theta_offset(np.pi / 2.0)
    ax.set_theta_direction(-1)
    ax.set_xticks(angles, [RADAR_LABELS.get(c, c.replace("_", " ")) for c in cols])
    ax.tick_params(axis="x", labelsize=fontsize, pad=pad)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0], ["25%", "50%", "75%", "100%"])
    ax.tick_params(axis="y", labelsize=fontsize - 2, labelcolor="0.45")
    ax.set_rlabel_position(180.0 / len(cols))
    return angles


def _draw_polygon(
    ax, angles: np.ndarray, values: np.ndarray, colour, label: str, lw: float, alpha: float = 0.12
):
    theta = np.append(angles, angles[0])
    radius = np.append(values, values[0])
    ax.plot(theta, radius, color=colour, linewidth=lw, label=label)
    ax.fill(theta, radius, color=colour, alpha=alpha, label="_nolegend_")


def radar_chart(
    profile: pd.DataFrame,
    names: Mapping[int, str] | None = None,
    population: pd.DataFrame | None = None,
    *,
    features: Sequence[str] | None = None,
    title: str = "Segment profiles",
) -> Figure:
    """All segments on one radar so their shapes can be compared at a glance."""
    values = radar_values(profile, population, features)
    cols = list(values.columns)
    ids = [int(s) for s in values.index]
    colours = segment_colours(ids)

    fig = new_figure((8.6, 6.4))
    ax = fig.add_subplot(projection="polar")
    angles = _setup_radar_axis(ax, cols, fontsize=11, pad=14)
    alpha = 0.12 if len(ids) <= 5 else 0.05  # many overlapping fills turn to mud
    for sid, row in zip(ids, values.to_numpy(), strict=True):
        _draw_polygon(ax, angles, row, colours[sid], segment_label(sid, names), 2.0, alpha)
    fig.suptitle(title, fontsize=14, fontweight="bold")
    subtitle(ax, _radar_note(population), width=80)
    handles = [
        Line2D([], [], color=colours[s], linewidth=2.5, label=segment_label(s, names)) for s in ids
    ]
    segment_legend(fig, handles)
    return fig


def radar_grid(
    profile: pd.DataFrame,
    names: Mapping[int, str] | None = None,
    population: pd.DataFrame | None = None,
    *,
    features: Sequence[str] | None = None,
    title: str = "Profile of each segment",
) -> Figure:
    """One small radar per segment: easier to read than overlapping polygons when k is large."""
    values = radar_values(profile, population, features)
    cols = list(values.columns)
    ids = [int(s) for s in values.index]
    colours = segment_colours(ids)
    k = len(ids)
    nrows = math.ceil(k / 4)
    ncols = math.ceil(k / nrows)

    fig = new_figure((3.8 * ncols + 0.4, 3.25 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, subplot_kw={"projection": "polar"}, squeeze=False).ravel()
    ring = np.linspace(0.0, 2.0 * np.pi, 200)
    for ax, sid, row in zip(axes, ids, values.to_numpy(), strict=False):
        angles = _setup_radar_axis(ax, cols, fontsize=8.5, pad=4)
        if population is not None:
            ax.plot(ring, np.full_like(ring, 0.5), color="0.4", linestyle="--", linewidth=0.9)
        _draw_polygon(ax, angles, row, colours[sid], segment_label(sid, names), 2.0, 0.15)
        heading = segment_label(sid, names)
        if {"n_customers", "share"} <= set(profile.columns):
            n = profile.loc[sid, "n_customers"]
            heading += f"\n{n:,.0f} customers ({profile.loc[sid, 'share']:.1%})"
        ax.set_title(heading, fontsize=10, color=colours[sid], fontweight="bold", pad=14)
    for ax in axes[k:]:
        ax.remove()
    fig.suptitle(title, fontsize=14, fontweight="bold")
    note = _radar_note(population)
    if population is not None:
        note += " Dashed ring = typical customer (median)."
    fig.text(0.5, -0.01, note, ha="center", va="top", fontsize=9, color="0.35", wrap=True)
    return fig


def cluster_mean_bars(
    profile: pd.DataFrame,
    names: Mapping[int, str] | None = None,
    *,
    population: pd.DataFrame | None = None,
    features: Sequence[str] | None = None,
    title: str = "Average customer in each segment",
) -> Figure:
    """Raw averages in real units (days, orders, currency), one small panel per feature."""
    cols = feature_columns(profile, features, "segment profile")
    ids = [int(s) for s in profile.index]
    colours = segment_colours(ids)
    positions = np.arange(len(ids))

    fig = new_figure((2.9 * len(cols) + 1.8, 3.9))
    axes = fig.subplots(1, len(cols), squeeze=False).ravel()
    for ax, col in zip(axes, cols, strict=True):
        heights = profile[col].to_numpy(dtype=float)
        bars = ax.bar(positions, heights, color=[colours[s] for s in ids], edgecolor="white")
        if len(ids) <= 6:
            ax.bar_label(bars, labels=[short_number(h) for h in heights], fontsize=8, padding=2)
            ax.margins(y=0.15)
        if population is not None and col in population.columns:
            ax.axhline(float(population[col].mean()), color="0.3", linestyle="--", linewidth=1.0)
        ax.set_title(RADAR_LABELS.get(col, col).replace(" (recent)", ""), fontsize=11)
        ax.set_ylabel(feature_label(col), fontsize=9)
        ax.set_xticks(positions, [str(s) for s in ids], fontsize=8)
        ax.set_xlabel("Segment id", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, fontsize=14, fontweight="bold")
    handles = legend_handles(ids, names, marker="s")
    if population is not None:
        handles.append(Line2D([], [], color="0.3", linestyle="--", label="All customers (mean)"))
    segment_legend(fig, handles)
    return fig


def cluster_size_bars(
    labels, names: Mapping[int, str] | None = None, *, title: str = "Customers per segment"
) -> Figure:
    """Customer count and share per segment; horizontal so long segment names stay readable."""
    ids, counts = np.unique(as_labels(labels), return_counts=True)
    colours = segment_colours(ids)
    total = counts.sum()
    fig = new_figure((8.0, 0.45 * len(ids) + 1.6))
    ax = fig.add_subplot()
    positions = np.arange(len(ids))
    bars = ax.barh(positions, counts, color=[colours[int(s)] for s in ids], edgecolor="white")
    ax.bar_label(
        bars,
        labels=[f"{c:,} ({c / total:.1%})" for c in counts],
        padding=4,
        fontsize=9,
    )
    ax.set_yticks(positions, [segment_label(s, names) for s in ids])
    ax.invert_yaxis()
    ax.set_xlabel("Customers")
    ax.set_xlim(0, counts.max() * 1.28)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title, fontsize=13, fontweight="bold", loc="left")
    return fig

"""Figures for segmentation runs, written for a marketing analyst rather than a modeller.

Every function takes data and returns a `matplotlib.figure.Figure`; nothing is shown, saved or
logged here. Figures are created through pyplot so `figure_to_png_bytes` (which closes them) is the
one place that releases them. A segment keeps the same colour in every figure (`segment_colours`),
legends use segment names when given, and scatters draw a seeded random sample so a million
customers still render in a second.
"""

from __future__ import annotations

import io
import math
import textwrap
import warnings
from collections.abc import Iterable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from sklearn.decomposition import PCA

from src.errors import SegmentationError
from src.schema import (
    DISCOUNT_RATE,
    FREQUENCY,
    LENGTH,
    LRFMC_FEATURES,
    MONETARY,
    RECENCY,
)

DPI = 110

# Axis labels with units, for linear axes.
FEATURE_LABELS: dict[str, str] = {
    LENGTH: "Length (days as customer)",
    RECENCY: "Recency (days since last order)",
    FREQUENCY: "Frequency (orders)",
    MONETARY: "Monetary (spend, currency)",
    DISCOUNT_RATE: "Discount rate (share, 0-1)",
}
# Short names for radar spokes; recency is inverted there, so its label says which way is outer.
RADAR_LABELS: dict[str, str] = {
    LENGTH: "length (tenure)",
    RECENCY: "recency (recent)",
    FREQUENCY: "frequency",
    MONETARY: "monetary",
    DISCOUNT_RATE: "discount rate",
}
# Features where a smaller value is the better customer, so radar axes flip them.
INVERTED_FEATURES = frozenset({RECENCY})

# Ids 0-9 take tab10; ids 10-19 take the light shades of tab20, so k up to 20 stays distinct and
# an id's colour never depends on which other segments are in the figure.
_PALETTE: tuple[tuple[float, float, float], ...] = tuple(
    tuple(float(c) for c in rgb)
    for rgb in (*matplotlib.colormaps["tab10"].colors, *matplotlib.colormaps["tab20"].colors[1::2])
)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def segment_colours(segment_ids: Iterable) -> dict[int, tuple]:
    """Colour per segment id, fixed by the id alone so a segment looks the same in every figure."""
    ids = sorted({int(s) for s in np.asarray(list(segment_ids)).ravel()})
    return {s: _PALETTE[s % len(_PALETTE)] for s in ids}


def segment_label(segment_id: int, names: Mapping | None = None) -> str:
    """Display name of a segment: its given name, else "Segment <id>"."""
    sid = int(segment_id)
    if names:
        for key in (sid, str(sid)):
            if key in names:
                return str(names[key])
    return f"Segment {sid}"


def feature_label(feature: str) -> str:
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


def _as_labels(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise SegmentationError(
            f"Segment labels must be one-dimensional, got shape {arr.shape}. Pass one integer "
            "segment id per customer."
        )
    if arr.dtype.kind not in "iu":
        try:
            as_int = arr.astype(np.int64)
        except (TypeError, ValueError) as exc:
            raise SegmentationError(
                f"Segment labels must be integer segment ids, got values of type {arr.dtype}. "
                "Pass the segment_id column (not segment names); names go in `names`."
            ) from exc
        if not np.array_equal(as_int, arr.astype(float)):
            raise SegmentationError(
                "Segment labels must be whole numbers (segment ids); got fractional values. "
                "Pass the segment_id column."
            )
        arr = as_int
    return arr.astype(np.int64, copy=False)


def _sample_indices(n: int, max_points: int, random_state: int | None) -> np.ndarray:
    """Seeded sample without replacement, in random order so no segment is always drawn on top."""
    rng = np.random.default_rng(random_state)
    size = min(n, max(int(max_points), 1))
    return rng.choice(n, size=size, replace=False)


def _new_figure(figsize: tuple[float, float]) -> Figure:
    return plt.figure(figsize=figsize, dpi=DPI, layout="constrained")


def _legend_handles(ids: Sequence[int], names: Mapping | None, marker: str = "o") -> list:
    colours = segment_colours(ids)
    return [
        Line2D(
            [],
            [],
            marker=marker,
            linestyle="",
            markersize=8,
            color=colours[int(s)],
            label=segment_label(s, names),
        )
        for s in ids
    ]


def _segment_legend(fig: Figure, handles: list, title: str = "Segment") -> None:
    ncols = 1 if len(handles) <= 14 else 2
    fig.legend(
        handles=handles,
        loc="outside right upper",
        title=title,
        frameon=False,
        fontsize=9,
        ncols=ncols,
    )


def _subtitle(ax, text: str, width: int = 90) -> None:
    ax.set_title("\n".join(textwrap.wrap(text, width)), fontsize=9, color="0.35", loc="left")


def _feature_columns(frame: pd.DataFrame, features: Sequence[str] | None, what: str) -> list[str]:
    if features is not None:
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise SegmentationError(
                f"The {what} has no column(s) {missing}; it has {list(frame.columns)}. Name "
                "columns that exist, or add the missing features to the table."
            )
        return list(features)
    found = [f for f in LRFMC_FEATURES if f in frame.columns]
    if not found:
        raise SegmentationError(
            f"The {what} has none of the feature columns {list(LRFMC_FEATURES)}; it has "
            f"{list(frame.columns)}. Build it from the customer feature table (one mean per "
            "segment and feature) or pass `features`."
        )
    return found


def _signed_log10(values: np.ndarray) -> np.ndarray:
    """log10(1 + |x|) keeping the sign: spend can be zero or net negative after returns."""
    values = np.asarray(values, dtype=float)
    return np.sign(values) * np.log10(1.0 + np.abs(values))


def _compact(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:,.0f}" if magnitude >= 1 or value == 0 else f"{value:g}"


def _log_ticks(axis, raw_min: float, raw_max: float) -> None:
    """Ticks at round raw values on an axis that plots `_signed_log10` of the data."""
    top = max(abs(raw_min), abs(raw_max), 1.0)
    decades = math.ceil(math.log10(top))
    steps = (1, 2, 5) if decades <= 3 else (1,)
    positive = [0.0] + [m * 10.0**d for d in range(decades + 1) for m in steps]
    nice = sorted(set(positive + [-v for v in positive]))
    keep = [v for v in nice if raw_min - 1e-9 <= v <= raw_max + 1e-9]
    if len(keep) < 2:
        keep = [raw_min, raw_max]
    axis.set_major_locator(FixedLocator(_signed_log10(np.array(keep))))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: _compact(_inverse_signed_log10(v))))


def _inverse_signed_log10(value: float) -> float:
    return float(np.sign(value) * (10.0 ** abs(value) - 1.0))


# --------------------------------------------------------------------------------------------
# Segment profiles: radar charts and mean bars
# --------------------------------------------------------------------------------------------


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
    cols = _feature_columns(profile, features, "segment profile")
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

    fig = _new_figure((8.6, 6.4))
    ax = fig.add_subplot(projection="polar")
    angles = _setup_radar_axis(ax, cols, fontsize=11, pad=14)
    alpha = 0.12 if len(ids) <= 5 else 0.05  # many overlapping fills turn to mud
    for sid, row in zip(ids, values.to_numpy(), strict=True):
        _draw_polygon(ax, angles, row, colours[sid], segment_label(sid, names), 2.0, alpha)
    fig.suptitle(title, fontsize=14, fontweight="bold")
    _subtitle(ax, _radar_note(population), width=80)
    handles = [
        Line2D([], [], color=colours[s], linewidth=2.5, label=segment_label(s, names)) for s in ids
    ]
    _segment_legend(fig, handles)
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

    fig = _new_figure((3.8 * ncols + 0.4, 3.25 * nrows + 0.8))
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
    cols = _feature_columns(profile, features, "segment profile")
    ids = [int(s) for s in profile.index]
    colours = segment_colours(ids)
    positions = np.arange(len(ids))

    fig = _new_figure((2.9 * len(cols) + 1.8, 3.9))
    axes = fig.subplots(1, len(cols), squeeze=False).ravel()
    for ax, col in zip(axes, cols, strict=True):
        heights = profile[col].to_numpy(dtype=float)
        bars = ax.bar(positions, heights, color=[colours[s] for s in ids], edgecolor="white")
        if len(ids) <= 6:
            ax.bar_label(bars, labels=[_short_number(h) for h in heights], fontsize=8, padding=2)
            ax.margins(y=0.15)
        if population is not None and col in population.columns:
            ax.axhline(float(population[col].mean()), color="0.3", linestyle="--", linewidth=1.0)
        ax.set_title(RADAR_LABELS.get(col, col).replace(" (recent)", ""), fontsize=11)
        ax.set_ylabel(feature_label(col), fontsize=9)
        ax.set_xticks(positions, [str(s) for s in ids], fontsize=8)
        ax.set_xlabel("Segment id", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, fontsize=14, fontweight="bold")
    handles = _legend_handles(ids, names, marker="s")
    if population is not None:
        handles.append(Line2D([], [], color="0.3", linestyle="--", label="All customers (mean)"))
    _segment_legend(fig, handles)
    return fig


def _short_number(value: float) -> str:
    if not np.isfinite(value):
        return ""
    if abs(value) >= 1e4:
        return _compact(round(value, -2))
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cluster_size_bars(
    labels, names: Mapping[int, str] | None = None, *, title: str = "Customers per segment"
) -> Figure:
    """Customer count and share per segment; horizontal so long segment names stay readable."""
    ids, counts = np.unique(_as_labels(labels), return_counts=True)
    colours = segment_colours(ids)
    total = counts.sum()
    fig = _new_figure((8.0, 0.45 * len(ids) + 1.6))
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


# --------------------------------------------------------------------------------------------
# Choosing k
# --------------------------------------------------------------------------------------------


def _metric_vs_k(
    ks,
    values,
    *,
    mark: int | None,
    mark_label: str,
    best: str,
    ylabel: str,
    title: str,
    note: str,
) -> Figure:
    frame = pd.DataFrame({"k": np.asarray(ks, dtype=int), "v": np.asarray(values, dtype=float)})
    per_k = frame.groupby("k")["v"].agg(best).sort_index()

    fig = _new_figure((7.0, 4.4))
    ax = fig.add_subplot()
    if frame["k"].duplicated().any():
        ax.scatter(frame["k"], frame["v"], s=12, color="0.6", alpha=0.5, label="Each trial")
        line_label = f"Best trial per k ({'highest' if best == 'max' else 'lowest'})"
    else:
        line_label = None
    ax.plot(per_k.index, per_k.to_numpy(), marker="o", color="C0", linewidth=2, label=line_label)
    if mark is not None:
        ax.axvline(mark, color="C3", linestyle="--", linewidth=1.5, label=f"{mark_label} = {mark}")
        if mark in per_k.index and np.isfinite(per_k[mark]):
            ax.scatter(
                [mark],
                [per_k[mark]],
                s=140,
                facecolors="none",
                edgecolors="C3",
                linewidths=2,
                zorder=3,
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Number of segments (k)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    _subtitle(ax, note, width=95)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    return fig


def elbow_plot(ks, inertias, knee: int | None = None) -> Figure:
    """Inertia against k; the knee is where extra segments stop buying much tighter clusters."""
    return _metric_vs_k(
        ks,
        inertias,
        mark=knee,
        mark_label="Knee at k",
        best="min",
        ylabel="Inertia (within-segment sum of squares)",
        title="Elbow curve",
        note="Lower = tighter segments. Inertia always falls as k grows; look for the bend.",
    )


def silhouette_vs_k(ks, silhouettes, best_k: int | None = None) -> Figure:
    """Mean silhouette against k, measured in the shared evaluation space."""
    return _metric_vs_k(
        ks,
        silhouettes,
        mark=best_k,
        mark_label="Chosen k",
        best="max",
        ylabel="Mean silhouette (-1 to 1)",
        title="Silhouette by number of segments",
        note="Higher = customers sit closer to their own segment than to the next one.",
    )


def silhouette_diagram(
    sample_values: np.ndarray,
    labels,
    names: Mapping[int, str] | None = None,
    average: float | None = None,
    *,
    max_band_points: int = 400,
) -> Figure:
    """Per-customer silhouette, one band per segment: thin or negative bands are weak segments."""
    values = np.asarray(sample_values, dtype=float)
    labs = _as_labels(labels)
    if values.shape != labs.shape:
        raise SegmentationError(
            f"silhouette values ({values.shape[0]}) and labels ({labs.shape[0]}) differ in length;"
            " pass the labels of the sampled customers the values were computed for."
        )
    ids = np.unique(labs)
    colours = segment_colours(ids)
    avg = float(np.mean(values)) if average is None else float(average)
    gap = max(10, int(0.02 * values.size))

    fig = _new_figure((8.0, 0.35 * len(ids) + 4.2))
    ax = fig.add_subplot()
    y_lower, centres = gap, []
    for sid in ids:
        band = np.sort(values[labs == sid])[::-1]
        keep = np.unique(np.linspace(0, band.size - 1, min(band.size, max_band_points)).astype(int))
        ax.fill_betweenx(
            y_lower + keep,
            0.0,
            band[keep],
            facecolor=colours[int(sid)],
            edgecolor=colours[int(sid)],
            alpha=0.85,
        )
        centres.append(y_lower + band.size / 2.0)
        y_lower += band.size + gap
    ax.axvline(avg, color="C3", linestyle="--", linewidth=1.5, label=f"Average = {avg:.2f}")
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_yticks(centres, [segment_label(s, names) for s in ids])
    ax.set_ylim(y_lower, 0)
    ax.set_xlim(min(-0.1, float(values.min()) - 0.05), 1.0)
    ax.set_xlabel(
        "Silhouette coefficient (-1 = closer to another segment, 1 = well inside its own)"
    )
    ax.set_ylabel("Customers, grouped by segment")
    ax.legend(loc="lower right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Silhouette per customer", fontsize=13, fontweight="bold")
    _subtitle(
        ax,
        f"{values.size:,} customers (sample). Band height = segment size; "
        "bands reaching left of 0 hold customers who fit another segment better.",
    )
    return fig


# --------------------------------------------------------------------------------------------
# Scatters
# --------------------------------------------------------------------------------------------


def _sample_note(shown: int, total: int) -> str:
    if shown < total:
        return f"{shown:,} of {total:,} customers shown (random sample)"
    return f"All {total:,} customers shown"


def pca_scatter(
    X: np.ndarray,
    labels,
    names: Mapping[int, str] | None = None,
    max_points: int = 5000,
    random_state: int | None = 0,
    *,
    title: str = "Segment map (principal components)",
) -> Figure:
    """2D PCA of the evaluation space; PCA is fitted on every customer, only drawing is sampled."""
    data = np.asarray(X, dtype=float)
    labs = _as_labels(labels)
    if data.ndim != 2 or data.shape[1] < 2 or data.shape[0] != labs.size:
        raise SegmentationError(
            f"pca_scatter needs a 2-D matrix with at least two feature columns and one label per "
            f"row; got X of shape {data.shape} and {labs.size} labels."
        )
    pca = PCA(n_components=2, random_state=random_state).fit(data)
    ids = np.unique(labs)
    colours = segment_colours(ids)
    idx = _sample_indices(labs.size, max_points, random_state)
    points = pca.transform(data[idx])
    centres = pca.transform(pd.DataFrame(data).groupby(labs).mean().loc[ids].to_numpy())

    fig = _new_figure((8.8, 6.2))
    ax = fig.add_subplot()
    ax.scatter(
        points[:, 0],
        points[:, 1],
        c=[colours[int(s)] for s in labs[idx]],
        s=10 if idx.size <= 2000 else 5,
        alpha=0.6,
        linewidths=0,
    )
    ax.scatter(
        centres[:, 0],
        centres[:, 1],
        c=[colours[int(s)] for s in ids],
        marker="X",
        s=180,
        edgecolors="black",
        linewidths=1.2,
        zorder=3,
    )
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({ratio[1]:.0%} of variance)")
    ax.grid(alpha=0.25)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    _subtitle(ax, f"{_sample_note(idx.size, labs.size)}. Crosses = segment centres.")
    handles = _legend_handles(ids, names)
    handles.append(
        Line2D(
            [],
            [],
            marker="X",
            linestyle="",
            markersize=10,
            markerfacecolor="white",
            markeredgecolor="black",
            label="Segment centre",
        )
    )
    _segment_legend(fig, handles)
    return fig


def scatter_3d(
    features: pd.DataFrame,
    labels,
    names: Mapping[int, str] | None = None,
    columns: Sequence[str] = (RECENCY, FREQUENCY, MONETARY),
    log_axes: Sequence[str] = (FREQUENCY, MONETARY),
    max_points: int = 5000,
    random_state: int | None = 0,
    *,
    title: str = "Customers in recency / frequency / monetary space",
) -> Figure:
    """Raw features in 3D; skewed ones on a log axis labelled with real values."""
    cols = _feature_columns(features, list(columns), "feature table")
    if len(cols) != 3:
        raise SegmentationError(
            f"scatter_3d needs exactly three columns, got {cols}. Pass `columns` with three names."
        )
    labs = _as_labels(labels)
    if labs.size != len(features):
        raise SegmentationError(
            f"scatter_3d got {len(features):,} customers but {labs.size:,} labels; pass one "
            "label per row of the feature table."
        )
    ids = np.unique(labs)
    colours = segment_colours(ids)
    idx = _sample_indices(labs.size, max_points, random_state)
    sample = features[cols].iloc[idx]

    fig = _new_figure((9.0, 7.0))
    ax = fig.add_subplot(projection="3d")
    coords, axis_objs = [], (ax.xaxis, ax.yaxis, ax.zaxis)
    for col, axis in zip(cols, axis_objs, strict=True):
        raw = sample[col].to_numpy(dtype=float)
        if col in log_axes:
            coords.append(_signed_log10(raw))
            _log_ticks(axis, float(np.nanmin(raw)), float(np.nanmax(raw)))
        else:
            coords.append(raw)
    ax.scatter(
        *coords,
        c=[colours[int(s)] for s in labs[idx]],
        s=10,
        alpha=0.7,
        linewidths=0,
        depthshade=False,
    )
    setters = (ax.set_xlabel, ax.set_ylabel, ax.set_zlabel)
    for col, setter in zip(cols, setters, strict=True):
        suffix = ", log scale" if col in log_axes else ""
        label = feature_label(col)
        label = label[:-1] + suffix + ")" if label.endswith(")") else label + suffix
        setter(label, fontsize=9, labelpad=8)
    ax.tick_params(labelsize=8)
    ax.set_box_aspect(None, zoom=0.88)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    ax.set_title(_sample_note(idx.size, labs.size), fontsize=9, color="0.35")
    _segment_legend(fig, _legend_handles(ids, names))
    return fig


def scatter_matrix(
    features: pd.DataFrame,
    labels,
    names: Mapping[int, str] | None = None,
    max_points: int = 2000,
    log_columns: Sequence[str] = (FREQUENCY, MONETARY),
    random_state: int | None = 0,
    *,
    columns: Sequence[str] | None = None,
    title: str = "Every pair of features, coloured by segment",
) -> Figure:
    """Pairwise scatters with per-segment distributions on the diagonal."""
    cols = _feature_columns(features, columns, "feature table")
    labs = _as_labels(labels)
    if labs.size != len(features):
        raise SegmentationError(
            f"scatter_matrix got {len(features):,} customers but {labs.size:,} labels; pass one "
            "label per row of the feature table."
        )
    ids = np.unique(labs)
    colours = segment_colours(ids)
    idx = _sample_indices(labs.size, max_points, random_state)
    sample_labels = labs[idx]
    point_colours = [colours[int(s)] for s in sample_labels]
    raw = {c: features[c].iloc[idx].to_numpy(dtype=float) for c in cols}
    shown = {c: _signed_log10(v) if c in log_columns else v for c, v in raw.items()}

    d = len(cols)
    fig = _new_figure((2.3 * d + 1.9, 2.3 * d + 0.6))
    axes = fig.subplots(d, d, sharex="col", squeeze=False)
    for i, row_col in enumerate(cols):
        for j, col in enumerate(cols):
            ax = axes[i, j]
            if i == j:
                finite = shown[col][np.isfinite(shown[col])]
                edges = np.histogram_bin_edges(finite, bins=20)
                for sid in ids:
                    ax.hist(
                        shown[col][sample_labels == sid],
                        bins=edges,
                        density=True,
                        histtype="step",
                        linewidth=1.4,
                        color=colours[int(sid)],
                    )
                ax.set_yticks([])
            else:
                ax.scatter(
                    shown[col], shown[row_col], c=point_colours, s=3, alpha=0.5, linewidths=0
                )
                if row_col in log_columns:
                    _log_ticks(
                        ax.yaxis, float(np.nanmin(raw[row_col])), float(np.nanmax(raw[row_col]))
                    )
            ax.tick_params(labelsize=7)
            if i == d - 1:
                ax.set_xlabel(_matrix_label(col, log_columns), fontsize=8)
            else:
                ax.tick_params(labelbottom=False)
            if j == 0:
                ax.set_ylabel(_matrix_label(row_col, log_columns), fontsize=8)
            elif i != j:
                ax.tick_params(labelleft=False)
        if cols[i] in log_columns:
            _log_ticks(
                axes[d - 1, i].xaxis, float(np.nanmin(raw[cols[i]])), float(np.nanmax(raw[cols[i]]))
            )
    fig.suptitle(title, fontsize=13, fontweight="bold")
    fig.text(
        0.5,
        -0.01,
        f"{_sample_note(idx.size, labs.size)}. Diagonal: distribution of each feature per "
        "segment. Log-scaled: " + (", ".join(c for c in cols if c in log_columns) or "none") + ".",
        ha="center",
        va="top",
        fontsize=9,
        color="0.35",
    )
    _segment_legend(fig, _legend_handles(ids, names))
    return fig


def _matrix_label(col: str, log_columns: Sequence[str]) -> str:
    label = feature_label(col)
    label = label.replace(" (", "\n(", 1)
    return label + ("\nlog scale" if col in log_columns else "")


# --------------------------------------------------------------------------------------------
# Optuna sweeps
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


def figure_to_png_bytes(fig: Figure) -> bytes:
    """PNG bytes for an MLflow artifact or an HTML data URI; closes the figure to free memory."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    finally:
        plt.close(fig)
    return buffer.getvalue()

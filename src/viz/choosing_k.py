"""Choosing k: the elbow, silhouette against k, and the per-customer silhouette diagram."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from src.errors import SegmentationError
from src.viz.style import (
    as_labels,
    new_figure,
    segment_colours,
    segment_label,
    subtitle,
)


def _metric_vs_k(
    ks,
    values,
    *,
    mark: int | None,
    mark_label: str,
    best: str,
    other: int | None = None,
    other_label: str = "",
    ylabel: str,
    title: str,
    note: str,
) -> Figure:
    frame = pd.DataFrame({"k": np.asarray(ks, dtype=int), "v": np.asarray(values, dtype=float)})
    per_k = frame.groupby("k")["v"].agg(best).sort_index()

    fig = new_figure((7.0, 4.4))
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
    if other is not None:
        ax.axvline(
            other, color="0.35", linestyle=":", linewidth=1.5, label=f"{other_label} = {other}"
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Number of segments (k)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    subtitle(ax, note, width=95)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    return fig


def elbow_plot(ks, inertias, knee: int | None = None, chosen_k: int | None = None) -> Figure:
    """Inertia against k; the knee is where extra segments stop buying much tighter clusters.

    Marked like the silhouette figure: the chosen k in red, the knee dotted (the knee alone in
    red when no k was chosen)."""
    marks = (chosen_k, "Chosen k", knee) if chosen_k is not None else (knee, "Knee at k", None)
    return _metric_vs_k(
        ks,
        inertias,
        mark=marks[0],
        mark_label=marks[1],
        best="min",
        other=marks[2],
        other_label="Knee at k",
        ylabel="Inertia (within-segment sum of squares)",
        title="Elbow curve",
        note="Lower = tighter segments. Inertia always falls as k grows; look for the bend.",
    )


def silhouette_vs_k(ks, silhouettes, best_k: int | None = None, knee: int | None = None) -> Figure:
    """Mean silhouette against k, measured in the shared evaluation space."""
    return _metric_vs_k(
        ks,
        silhouettes,
        mark=best_k,
        mark_label="Chosen k",
        best="max",
        other=knee,
        other_label="Knee at k",
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
    labs = as_labels(labels)
    if values.shape != labs.shape:
        raise SegmentationError(
            f"silhouette values ({values.shape[0]}) and labels ({labs.shape[0]}) differ in length;"
            " pass the labels of the sampled customers the values were computed for."
        )
    ids = np.unique(labs)
    colours = segment_colours(ids)
    avg = float(np.mean(values)) if average is None else float(average)
    gap = max(10, int(0.02 * values.size))

    fig = new_figure((8.0, 0.35 * len(ids) + 4.2))
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
    subtitle(
        ax,
        f"{values.size:,} customers (sample). Band height = segment size; "
        "bands reaching left of 0 hold customers who fit another segment better.",
    )
    return fig

"""Customers in feature space: 2D PCA map, 3D scatter and the scatter matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA

from src.columns import (
    FREQUENCY,
    MONETARY,
    RECENCY,
)
from src.errors import SegmentationError
from src.viz.style import (
    as_labels,
    feature_columns,
    feature_label,
    legend_handles,
    log_ticks,
    new_figure,
    sample_indices,
    sample_note,
    segment_colours,
    segment_legend,
    signed_log10,
    subtitle,
)


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
    labs = as_labels(labels)
    if data.ndim != 2 or data.shape[1] < 2 or data.shape[0] != labs.size:
        raise SegmentationError(
            f"pca_scatter needs a 2-D matrix with at least two feature columns and one label per "
            f"row; got X of shape {data.shape} and {labs.size} labels."
        )
    pca = PCA(n_components=2, random_state=random_state).fit(data)
    ids = np.unique(labs)
    colours = segment_colours(ids)
    idx = sample_indices(labs.size, max_points, random_state)
    points = pca.transform(data[idx])
    centres = pca.transform(pd.DataFrame(data).groupby(labs).mean().loc[ids].to_numpy())

    fig = new_figure((8.8, 6.2))
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
    subtitle(ax, f"{sample_note(idx.size, labs.size)}. Crosses = segment centres.")
    handles = legend_handles(ids, names)
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
    segment_legend(fig, handles)
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
    cols = feature_columns(features, list(columns), "feature table")
    if len(cols) != 3:
        raise SegmentationError(
            f"scatter_3d needs exactly three columns, got {cols}. Pass `columns` with three names."
        )
    labs = as_labels(labels)
    if labs.size != len(features):
        raise SegmentationError(
            f"scatter_3d got {len(features):,} customers but {labs.size:,} labels; pass one "
            "label per row of the feature table."
        )
    ids = np.unique(labs)
    colours = segment_colours(ids)
    idx = sample_indices(labs.size, max_points, random_state)
    sample = features[cols].iloc[idx]

    fig = new_figure((9.0, 7.0))
    ax = fig.add_subplot(projection="3d")
    coords, axis_objs = [], (ax.xaxis, ax.yaxis, ax.zaxis)
    for col, axis in zip(cols, axis_objs, strict=True):
        raw = sample[col].to_numpy(dtype=float)
        if col in log_axes:
            coords.append(signed_log10(raw))
            log_ticks(axis, float(np.nanmin(raw)), float(np.nanmax(raw)))
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
    ax.set_title(sample_note(idx.size, labs.size), fontsize=9, color="0.35")
    segment_legend(fig, legend_handles(ids, names))
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
    cols = feature_columns(features, columns, "feature table")
    labs = as_labels(labels)
    if labs.size != len(features):
        raise SegmentationError(
            f"scatter_matrix got {len(features):,} customers but {labs.size:,} labels; pass one "
            "label per row of the feature table."
        )
    ids = np.unique(labs)
    colours = segment_colours(ids)
    idx = sample_indices(labs.size, max_points, random_state)
    sample_labels = labs[idx]
    point_colours = [colours[int(s)] for s in sample_labels]
    raw = {c: features[c].iloc[idx].to_numpy(dtype=float) for c in cols}
    shown = {c: signed_log10(v) if c in log_columns else v for c, v in raw.items()}

    d = len(cols)
    fig = new_figure((2.3 * d + 1.9, 2.3 * d + 0.6))
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
                    log_ticks(
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
            log_ticks(
                axes[d - 1, i].xaxis, float(np.nanmin(raw[cols[i]])), float(np.nanmax(raw[cols[i]]))
            )
    fig.suptitle(title, fontsize=13, fontweight="bold")
    fig.text(
        0.5,
        -0.01,
        f"{sample_note(idx.size, labs.size)}. Diagonal: distribution of each feature per "
        "segment. Log-scaled: " + (", ".join(c for c in cols if c in log_columns) or "none") + ".",
        ha="center",
        va="top",
        fontsize=9,
        color="0.35",
    )
    segment_legend(fig, legend_handles(ids, names))
    return fig


def _matrix_label(col: str, log_columns: Sequence[str]) -> str:
    label = feature_label(col)
    label = label.replace(" (", "\n(", 1)
    return label + ("\nlog scale" if col in log_columns else "")

"""Heatmaps: cohort retention and segment migration."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle


def retention_heatmap(shares: pd.DataFrame) -> Figure:
    """Cohort x period heatmap of retention shares with a percentage in every observed cell."""
    n_rows, n_cols = shares.shape
    fig = Figure(
        figsize=(max(6.0, 0.62 * n_cols + 2.2), max(3.0, 0.42 * n_rows + 1.6)),
        layout="constrained",
    )
    ax = fig.add_subplot()
    values = shares.to_numpy(dtype=float, na_value=np.nan)
    # Period 0 is 100 % by construction; colour the rest on their own scale so variation shows.
    later = values[:, 1:] if n_cols > 1 else values
    finite = later[np.isfinite(later)]
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    image = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    for (row, col), value in np.ndenumerate(values):
        if np.isfinite(value):
            colour = "white" if min(value, vmax) > 0.6 * vmax else "#222222"
            ax.text(col, row, f"{value:.0%}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(np.arange(n_cols), [str(c) for c in shares.columns])
    ax.set_yticks(np.arange(n_rows), [str(i) for i in shares.index])
    ax.set_xlabel("Months since first purchase")
    ax.set_ylabel("Cohort (month of first purchase)")
    ax.set_title("Share of each cohort buying again")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    return fig


def migration_heatmap(counts: pd.DataFrame, shares: pd.DataFrame) -> Figure:
    """Heatmap of row shares; each cell shows the share and the customer count, diagonal outlined."""
    n_rows, n_cols = shares.shape
    fig = Figure(
        figsize=(max(5.5, 1.25 * n_cols + 2.8), max(3.5, 0.75 * n_rows + 1.8)),
        layout="constrained",
    )
    ax = fig.add_subplot()
    values = shares.to_numpy(dtype=float, na_value=np.nan)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    count_values = counts.reindex(index=shares.index, columns=shares.columns).to_numpy()
    for (row, col), share in np.ndenumerate(values):
        if np.isfinite(share):
            colour = "white" if share > 0.6 else "#222222"
            text = f"{share:.0%}\n({int(count_values[row, col]):,})"
            ax.text(col, row, text, ha="center", va="center", fontsize=8, color=colour)
    for i, label in enumerate(shares.index):
        if label in shares.columns:
            j = shares.columns.get_loc(label)
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor="#DD8452",
                    linewidth=2,
                    clip_on=False,
                )
            )
    ax.set_xticks(np.arange(n_cols), [str(c) for c in shares.columns], rotation=30, ha="right")
    ax.set_yticks(np.arange(n_rows), [str(i) for i in shares.index])
    ax.set_xlabel("Segment at the later date")
    ax.set_ylabel("Segment at the earlier date")
    ax.set_title("Segment migration (row shares, customer counts)")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    return fig

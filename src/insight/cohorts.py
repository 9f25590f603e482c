"""Monthly acquisition cohorts and how many of their customers come back.

A customer's cohort is the calendar month of their first purchase in the log; period ``p`` is the
``p``-th calendar month after it. A customer is active in a month when they bought something in it
(returns do not count). Cells that lie after the last month of the log cannot be observed and are
missing (``<NA>`` / ``NaN``) rather than zero, so young cohorts do not look like they churned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.errors import SegmentationError
from src.insight.eda import purchases
from src.schema import CUSTOMER_ID, INVOICE_DATE


def _month_number(dates: pd.Series) -> pd.Series:
    return dates.dt.year * 12 + dates.dt.month - 1


def cohort_retention(tx: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Active customers per cohort and period offset, as counts and as shares of the cohort.

    Returns ``(counts, shares)``: index ``cohort`` (strings like ``"2010-12"``, in time order),
    columns ``period`` 0..N where N is the span of the log in months. ``counts`` is ``Int64``;
    ``shares`` is float with period 0 equal to 1.0.
    """
    missing = [c for c in (CUSTOMER_ID, INVOICE_DATE) if c not in tx.columns]
    if missing:
        raise SegmentationError(
            f"Cohort retention needs the column(s) {', '.join(missing)} in the transaction log. "
            "Load the data through the project's loaders so columns get canonical names."
        )
    buys = purchases(tx).dropna(subset=[CUSTOMER_ID, INVOICE_DATE])
    active = pd.DataFrame(
        {"customer": buys[CUSTOMER_ID], "month": _month_number(buys[INVOICE_DATE])}
    ).drop_duplicates()
    if active.empty:
        empty = pd.DataFrame(index=pd.Index([], name="cohort", dtype="str"))
        empty.columns.name = "period"
        return empty.astype("Int64"), empty.astype(float)

    first = active.groupby("customer")["month"].transform("min")
    active = active.assign(cohort=first, period=active["month"] - first)
    last_month = int(active["month"].max())
    first_month = int(active["month"].min())
    periods = range(last_month - first_month + 1)

    counts = active.groupby(["cohort", "period"]).size().unstack("period", fill_value=0)
    counts = counts.reindex(columns=periods, fill_value=0)
    observable = np.asarray(counts.index)[:, None] + np.asarray(periods)[None, :] <= last_month
    counts = counts.astype("Int64").where(observable)

    labels = pd.PeriodIndex.from_ordinals(counts.index - (1970 * 12), freq="M").strftime("%Y-%m")
    counts.index = pd.Index(labels, name="cohort", dtype="str")
    counts.columns = pd.Index(list(periods), name="period")
    shares = counts.astype("Float64").div(counts[0], axis=0).astype(float)
    return counts, shares


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

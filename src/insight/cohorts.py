"""Monthly acquisition cohorts and how many of their customers come back.

A customer's cohort is the calendar month of their first purchase in the log; period ``p`` is the
``p``-th calendar month after it. A customer is active in a month when they bought something in it
(returns do not count). Cells that lie after the last month of the log cannot be observed and are
missing (``<NA>`` / ``NaN``) rather than zero, so young cohorts do not look like they churned.

The counting runs in polars on the (polars) log; the matrices are small pandas tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from src.columns import CUSTOMER_ID, INVOICE_DATE, require
from src.insight.eda import purchases


def cohort_retention(tx: pl.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Active customers per cohort and period offset, as counts and as shares of the cohort.

    Returns ``(counts, shares)``: index ``cohort`` (strings like ``"2010-12"``, in time order),
    columns ``period`` 0..N where N is the span of the log in months. ``counts`` is ``Int64``;
    ``shares`` is float with period 0 equal to 1.0.
    """
    require(tx, (CUSTOMER_ID, INVOICE_DATE), "cohort retention")
    date = pl.col(INVOICE_DATE)
    active = (
        purchases(tx)
        .filter(pl.col(CUSTOMER_ID).is_not_null() & date.is_not_null())
        .select(
            pl.col(CUSTOMER_ID),
            (date.dt.year().cast(pl.Int64) * 12 + date.dt.month().cast(pl.Int64) - 1).alias(
                "month"
            ),
        )
        .unique()
        .with_columns(pl.col("month").min().over(CUSTOMER_ID).alias("cohort"))
        .collect()
    )
    if active.is_empty():
        empty = pd.DataFrame(index=pd.Index([], name="cohort", dtype="str"))
        empty.columns.name = "period"
        return empty.astype("Int64"), empty.astype(float)
    first_month, last_month = int(active["month"].min()), int(active["month"].max())
    cells = (
        active.group_by("cohort", (pl.col("month") - pl.col("cohort")).alias("period"))
        .len()
        .to_pandas()
    )
    periods = range(last_month - first_month + 1)
    counts = cells.pivot(index="cohort", columns="period", values="len")
    counts = counts.reindex(columns=periods).fillna(0).sort_index()
    observable = np.asarray(counts.index)[:, None] + np.asarray(periods)[None, :] <= last_month
    counts = counts.astype("Int64").where(observable)

    labels = pd.PeriodIndex.from_ordinals(counts.index - (1970 * 12), freq="M").strftime("%Y-%m")
    counts.index = pd.Index(labels, name="cohort", dtype="str")
    counts.columns = pd.Index(list(periods), name="period")
    shares = counts.astype("Float64").div(counts[0], axis=0).astype(float)
    return counts, shares

"""Monthly acquisition cohorts and how many of their customers come back.

A customer's cohort is the calendar month of their first purchase in the log; period ``p`` is the
``p``-th calendar month after it. A customer is active in a month when they bought something in it
(returns do not count). Cells that lie after the last month of the log cannot be observed and are
missing (``<NA>`` / ``NaN``) rather than zero, so young cohorts do not look like they churned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.columns import CUSTOMER_ID, INVOICE_DATE, require
from src.insight.eda import purchases


def _month_number(dates: pd.Series) -> pd.Series:
    return dates.dt.year * 12 + dates.dt.month - 1


def cohort_retention(tx: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Active customers per cohort and period offset, as counts and as shares of the cohort.

    Returns ``(counts, shares)``: index ``cohort`` (strings like ``"2010-12"``, in time order),
    columns ``period`` 0..N where N is the span of the log in months. ``counts`` is ``Int64``;
    ``shares`` is float with period 0 equal to 1.0.
    """
    require(tx, (CUSTOMER_ID, INVOICE_DATE), "cohort retention")
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

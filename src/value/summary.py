"""The per-customer BTYD summary (frequency, recency, T, monetary_value) from the cleaned log.

Buy-till-you-die definitions, as pymc-marketing's ``rfm_summary`` computes them (they differ
from the segmentation's RFM features, see README "Customer value"):

- ``frequency``: *repeat* purchase days (days with a purchase, minus the first one);
- ``recency``: days from the first to the last purchase (0 for one-day customers);
- ``T``: days from the first purchase to the snapshot;
- ``monetary_value``: mean spend per repeat purchase day (0 without repeats).

The log is accepted as pandas or polars and converted once, here: purchase lines are summed per
customer and day with polars (every other module that touches transaction lines uses polars), and
the small per-day table goes to the library's own ``rfm_summary`` / ``rfm_train_test_split``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from src.columns import AMOUNT, CUSTOMER_ID, INVOICE_DATE, IS_RETURN
from src.errors import SegmentationError

DAY = "day"
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def purchase_days(log: Any) -> pd.DataFrame:
    """One row per customer and day with a purchase: ``customer_id``, ``day``, ``amount`` (sum).

    ``log`` is the cleaned transaction log (pandas or polars) with the canonical columns
    ``customer_id``, ``invoice_date`` and ``amount``; returned lines (``is_return``, kept by
    ``cleaning.returns=net``) are left out, so spend and purchase counts are purchases only.
    """
    import polars as pl

    if log is None:
        raise SegmentationError(
            "The customer value model needs a transaction log (customer_id, invoice_date, "
            "amount), but this dataset is a per-customer table. Use a transactions or synthetic "
            "dataset, or switch it off with value=none."
        )
    frame = log if isinstance(log, pl.DataFrame) else _from_pandas(log)
    missing = [c for c in (CUSTOMER_ID, INVOICE_DATE, AMOUNT) if c not in frame.columns]
    if missing:
        raise SegmentationError(
            f"The transaction log lacks column(s) {missing} that the customer value model needs "
            f"(it has {list(frame.columns)}). Map them in the dataset's `columns:` block."
        )
    purchases = frame.filter(~pl.col(IS_RETURN)) if IS_RETURN in frame.columns else frame
    daily = (
        purchases.filter(pl.col(CUSTOMER_ID).is_not_null())
        .group_by(pl.col(CUSTOMER_ID).cast(pl.String), pl.col(INVOICE_DATE).dt.truncate("1d"))
        .agg(pl.col(AMOUNT).sum())
        .rename({INVOICE_DATE: DAY})
        .sort(CUSTOMER_ID, DAY)
    )
    if daily.is_empty():
        raise SegmentationError(
            "The cleaned transaction log has no purchases; the customer value model needs at "
            "least one. Check the cleaning report."
        )
    out = daily.to_pandas()
    out[DAY] = out[DAY].astype("datetime64[ns]")
    return out


def _from_pandas(log: pd.DataFrame):
    import polars as pl

    cols = [c for c in (CUSTOMER_ID, INVOICE_DATE, AMOUNT, IS_RETURN) if c in log.columns]
    picked = log[cols].copy()
    if CUSTOMER_ID in picked:
        picked[CUSTOMER_ID] = picked[CUSTOMER_ID].astype("str")
    return pl.from_pandas(picked)


def btyd_summary(daily: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """The BTYD summary at ``snapshot`` (days before it only), indexed by ``customer_id``."""
    clv = _clv()
    before = daily[daily[DAY] < pd.Timestamp(snapshot)]
    if before.empty:
        raise SegmentationError(
            f"No purchases before the snapshot {pd.Timestamp(snapshot).date()}; the customer "
            "value model has nothing to fit. Check snapshot_date."
        )
    # The library groups by customer several times; it gets integer codes for the shop's ids
    # (grouping by a million string ids took most of its time) and the ids go back on after.
    codes, ids = pd.factorize(before[CUSTOMER_ID])
    summary = clv.rfm_summary(
        before.assign(**{CUSTOMER_ID: codes}),
        CUSTOMER_ID,
        DAY,
        monetary_value_col=AMOUNT,
        observation_period_end=pd.Timestamp(snapshot),
        time_unit="D",
        sort_transactions=False,  # purchase_days sorts by customer and day
    )
    index = pd.Index(ids.take(summary[CUSTOMER_ID].to_numpy()), name=CUSTOMER_ID)
    return summary[list(SUMMARY_COLUMNS)].set_axis(index)


def train_test_summary(
    daily: pd.DataFrame, cutoff: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """The summary up to ``cutoff`` and the purchase days after it, up to ``end`` (exclusive).

    The split pymc-marketing's ``rfm_train_test_split`` makes: customers whose first purchase is
    after the cut-off are left out; ``test_frequency`` counts purchase days in the holdout,
    ``test_T`` is its length in days. The training side is :func:`btyd_summary` at the cut-off
    (the library's ``rfm_summary``). The holdout side is counted here rather than by
    ``rfm_train_test_split``, which counts each customer's holdout days with a Python function
    per customer and day (``groupby(...).agg(lambda r: 1)``: 20 s at 100,000 customers, minutes
    at a million); ``daily`` already has one row per customer and purchase day, so the count is
    a vectorised group size.
    """
    train = btyd_summary(daily, cutoff)
    last = (pd.Timestamp(end) - pd.Timedelta(days=1)).normalize()  # the holdout's last day
    days = daily[DAY]
    test = daily.loc[(days >= pd.Timestamp(cutoff)) & (days <= last), CUSTOMER_ID]
    if test.empty:
        raise SegmentationError(
            f"The holdout from {pd.Timestamp(cutoff).date()} to {pd.Timestamp(end).date()} has "
            "no purchases; use another value.holdout_months or value.holdout_months=0."
        )
    counts = test.value_counts(sort=False).reindex(train.index, fill_value=0)
    split = train.assign(test_frequency=counts.astype(float))
    split["test_T"] = float((last - pd.Timestamp(cutoff)).days + 1)
    return split


def _clv():
    from src.value import require

    return require()

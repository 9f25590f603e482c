"""A transaction log collapsed into the per-customer summary schema (``SUMMARY_COLUMNS``).

Only purchases count, as the cleaning rules define them: the log goes through the default
cleaning rules first (guest rows, cancellations, returns, non-positive prices, exact duplicates
and non-product codes are dropped), then each customer's purchase lines are summed.
"""

from __future__ import annotations

import pandas as pd
import polars as pl

from src.columns import (
    AMOUNT,
    CREATED_AT,
    CUSTOMER_ID,
    DATA_PULLED_DATE,
    DISCOUNT,
    INVOICE_DATE,
    INVOICE_ID,
    LAST_ORDER_DATE,
    QUANTITY,
    SIGNUP_DATE,
    SUMMARY_COLUMNS,
    TOTAL_MONEY_SPENT,
    TOTAL_TRANSACTION,
    TRAN_WITH_DISC,
    UNIT_PRICE,
    USER_ID,
    require,
)
from src.config.schema import CleaningConfig
from src.data.cleaning import clean_transactions, purchase_mask
from src.data.features import default_snapshot


def to_customer_summary(
    transactions: pl.DataFrame, snapshot_date: pd.Timestamp | None = None
) -> pd.DataFrame:
    """One row per customer with purchases: totals, discounted orders, last order, sign-up.

    ``total_money_spent`` is the gross line amount, like the log's monetary feature;
    ``tran_with_disc`` counts invoices with any discounted line. ``data_pulled_date`` defaults
    to the log's default snapshot (midnight after its last line).
    """
    needed = [CUSTOMER_ID, INVOICE_ID, INVOICE_DATE, QUANTITY, UNIT_PRICE, AMOUNT]
    require(transactions, [*needed, DISCOUNT, SIGNUP_DATE], "to_customer_summary")
    if snapshot_date is None:
        snapshot_date = default_snapshot(transactions)
    cleaned, _ = clean_transactions(transactions, CleaningConfig())
    summary = (
        cleaned.lazy()
        .filter(purchase_mask(cleaned) & pl.col(CUSTOMER_ID).is_not_null())
        .group_by(CUSTOMER_ID, INVOICE_ID)
        .agg(
            pl.col(INVOICE_DATE).max().alias("date"),
            pl.col(AMOUNT).sum().alias("spent"),
            (pl.col(DISCOUNT).max() > 0).alias("discounted"),
            pl.col(SIGNUP_DATE).min().alias("signup"),
        )
        .group_by(CUSTOMER_ID)
        .agg(
            pl.len().cast(pl.Int64).alias(TOTAL_TRANSACTION),
            pl.col("spent").sum().alias(TOTAL_MONEY_SPENT),
            pl.col("discounted").sum().cast(pl.Int64).alias(TRAN_WITH_DISC),
            pl.col("date").max().alias(LAST_ORDER_DATE),
            pl.col("signup").min().alias(CREATED_AT),
        )
        .with_columns(pl.lit(pd.Timestamp(snapshot_date).to_pydatetime()).alias(DATA_PULLED_DATE))
        .rename({CUSTOMER_ID: USER_ID})
        .sort(USER_ID)
        .select(SUMMARY_COLUMNS)
        .collect()
    )
    return summary.to_pandas()

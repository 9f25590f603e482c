"""A transaction log collapsed into the per-customer summary schema (``SUMMARY_COLUMNS``).

Only purchases count, as the cleaning rules define them: the log goes through the default
cleaning rules first (guest rows, cancellations, returns, non-positive prices, exact duplicates
and non-product codes are dropped), then each customer's purchase lines are summed.
"""

from __future__ import annotations

import pandas as pd

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
    transactions: pd.DataFrame, snapshot_date: pd.Timestamp | None = None
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
    buys = cleaned.loc[purchase_mask(cleaned)]
    invoices = buys.groupby([CUSTOMER_ID, INVOICE_ID], sort=False, observed=True).agg(
        date=(INVOICE_DATE, "max"),
        spent=(AMOUNT, "sum"),
        discounted=(DISCOUNT, "max"),
        signup=(SIGNUP_DATE, "min"),
    )
    invoices["discounted"] = invoices["discounted"] > 0
    per_customer = invoices.groupby(level=CUSTOMER_ID, observed=True).agg(
        **{
            TOTAL_TRANSACTION: ("spent", "size"),
            TOTAL_MONEY_SPENT: ("spent", "sum"),
            TRAN_WITH_DISC: ("discounted", "sum"),
            LAST_ORDER_DATE: ("date", "max"),
            CREATED_AT: ("signup", "min"),
        }
    )
    per_customer[DATA_PULLED_DATE] = pd.Timestamp(snapshot_date)
    summary = per_customer.rename_axis(USER_ID).reset_index()
    summary[USER_ID] = summary[USER_ID].astype("str")
    return summary[list(SUMMARY_COLUMNS)]

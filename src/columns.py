"""Canonical column names shared by every module, and the one check that a table has them.

Loaders rename source columns to these names once, so cleaning, features, models and reports
never see a dataset's own spelling.
"""

from __future__ import annotations

from collections.abc import Iterable

# Transaction log (one row per invoice line).
CUSTOMER_ID = "customer_id"
INVOICE_ID = "invoice_id"
INVOICE_DATE = "invoice_date"
STOCK_CODE = "stock_code"
DESCRIPTION = "description"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
AMOUNT = "amount"
DISCOUNT = "discount"
SIGNUP_DATE = "signup_date"
COUNTRY = "country"
IS_RETURN = "is_return"

TRANSACTION_COLUMNS = (
    CUSTOMER_ID,
    INVOICE_ID,
    INVOICE_DATE,
    STOCK_CODE,
    DESCRIPTION,
    QUANTITY,
    UNIT_PRICE,
    AMOUNT,
    DISCOUNT,
    SIGNUP_DATE,
    COUNTRY,
)

# Stock codes that are fees, postage or manual adjustments rather than products.
NON_PRODUCT_CODES = ("POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE", "CRUK", "D", "S", "C2")

# Per-customer summary table (one row per customer, totals computed upstream).
USER_ID = "user_id"
TOTAL_TRANSACTION = "total_transaction"
TOTAL_MONEY_SPENT = "total_money_spent"
TRAN_WITH_DISC = "tran_with_disc"
LAST_ORDER_DATE = "last_order_date"
CREATED_AT = "created_at"
DATA_PULLED_DATE = "data_pulled_date"

SUMMARY_COLUMNS = (
    USER_ID,
    TOTAL_TRANSACTION,
    TOTAL_MONEY_SPENT,
    TRAN_WITH_DISC,
    LAST_ORDER_DATE,
    CREATED_AT,
    DATA_PULLED_DATE,
)

# Customer features: the model input and the column names of every report.
LENGTH = "length_days"
RECENCY = "recency_days"
FREQUENCY = "frequency"
MONETARY = "monetary"
DISCOUNT_RATE = "discount_rate"

RFM_FEATURES = (RECENCY, FREQUENCY, MONETARY)
LRFMC_FEATURES = (LENGTH, RECENCY, FREQUENCY, MONETARY, DISCOUNT_RATE)
FEATURE_SETS = {"rfm": RFM_FEATURES, "lrfmc": LRFMC_FEATURES}

# Model output.
SEGMENT_ID = "segment_id"
SEGMENT_NAME = "segment_name"
DISTANCE = "distance_to_centre"

# How people read the features, in every table and figure.
FEATURE_LABELS = {
    LENGTH: "Length (days as customer)",
    RECENCY: "Recency (days since last order)",
    FREQUENCY: "Frequency (orders)",
    MONETARY: "Monetary (spend)",
    DISCOUNT_RATE: "Discount rate (share of orders)",
}


def names(frame) -> list[str]:
    """Column names of a pandas or polars frame (lazy frames: from their schema, no data read)."""
    if hasattr(frame, "collect_schema"):
        return list(frame.collect_schema().names())
    return [str(c) for c in frame.columns]


_LOADER_HINT = (
    "Load the data through the project's loaders so the columns get their canonical names "
    "(src/columns.py), or map the missing ones under dataset.columns."
)


def require(frame, columns: Iterable[str], what: str, fix: str = _LOADER_HINT) -> None:
    """Raise a SegmentationError naming the columns ``what`` needs that ``frame`` lacks.

    ``fix`` says how to fix it (default: load through the loaders or map the columns).
    """
    from src.errors import SegmentationError

    present = names(frame)
    missing = [c for c in columns if c not in present]
    if missing:
        raise SegmentationError(
            f"{what} needs the column(s) {', '.join(missing)}, which the table lacks; it has "
            f"{', '.join(present) or 'no columns'}. {fix}"
        )

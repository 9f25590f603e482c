"""The per-customer summary schema of a transaction log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

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
    STOCK_CODE,
    SUMMARY_COLUMNS,
    TOTAL_MONEY_SPENT,
    TOTAL_TRANSACTION,
    TRAN_WITH_DISC,
    UNIT_PRICE,
    USER_ID,
)
from src.config.schema import FeaturesConfig, FeatureSet
from src.data.cleaning import clean_transactions
from src.data.features import transaction_features
from src.data.synthetic import SyntheticData, generate_transactions, to_customer_summary
from src.errors import SegmentationError


@pytest.fixture(scope="module")
def dirty() -> SyntheticData:
    return generate_transactions(3000, seed=7)


# --- to_customer_summary ---------------------------------------------------------------------


def tiny_log() -> pl.DataFrame:
    """Two customers plus every kind of row the summary must ignore."""
    rows = [
        # customer, invoice, date, stock, qty, price, discount, signup
        ("A", "1", "2024-01-05 10:00", "P1", 2, 5.0, 0.0, "2023-12-01"),
        ("A", "1", "2024-01-05 10:00", "P2", 1, 3.0, 0.0, "2023-12-01"),
        ("A", "2", "2024-02-10 11:00", "P1", 4, 5.0, 2.0, "2023-12-01"),
        ("A", "2", "2024-02-10 11:00", "POST", 1, 18.0, 1.8, "2023-12-01"),
        ("A", "C3", "2024-02-11 09:00", "P1", -4, 5.0, 0.0, "2023-12-01"),
        ("A", "4", "2024-02-20 09:00", "P1", -1, 5.0, 0.0, "2023-12-01"),
        ("B", "5", "2024-03-01 15:00", "P3", 10, 1.5, 0.0, "2024-02-28"),
        ("B", "5", "2024-03-01 15:00", "P3", 10, 1.5, 0.0, "2024-02-28"),
        ("B", "5", "2024-03-01 15:00", "P4", 3, 0.0, 0.0, "2024-02-28"),
        ("B", "6", "2024-03-20 16:00", "P4", 1, 7.0, 0.7, "2024-02-28"),
        (None, "7", "2024-03-25 12:00", "P1", 3, 5.0, 0.0, None),
    ]
    columns = [CUSTOMER_ID, INVOICE_ID, INVOICE_DATE, STOCK_CODE, QUANTITY, UNIT_PRICE]
    t = pd.DataFrame(rows, columns=[*columns, DISCOUNT, SIGNUP_DATE])
    t[QUANTITY] = t[QUANTITY].astype(float)
    t[AMOUNT] = t[QUANTITY] * t[UNIT_PRICE]
    t[INVOICE_DATE] = pd.to_datetime(t[INVOICE_DATE])
    t[SIGNUP_DATE] = pd.to_datetime(t[SIGNUP_DATE])
    return pl.from_pandas(t)


def test_summary_matches_hand_computed_values() -> None:
    summary = to_customer_summary(tiny_log()).set_index(USER_ID)
    expected = pd.DataFrame(
        {
            # A's cancellation C3 and return 4 take back 5 units of P1, latest first: all of
            # invoice 2 (with its discount), then one of invoice 1's two.
            TOTAL_TRANSACTION: [1, 2],
            TOTAL_MONEY_SPENT: [1 * 5.0 + 3.0, 10 * 1.5 + 7.0],
            TRAN_WITH_DISC: [0, 1],
            LAST_ORDER_DATE: pd.to_datetime(["2024-01-05 10:00", "2024-03-20 16:00"]),
            CREATED_AT: pd.to_datetime(["2023-12-01", "2024-02-28"]),
            DATA_PULLED_DATE: pd.to_datetime(["2024-03-26", "2024-03-26"]),
        },
        index=pd.Index(["A", "B"], name=USER_ID),
    )
    pd.testing.assert_frame_equal(summary, expected, check_dtype=False)


def test_summary_uses_the_given_snapshot_date() -> None:
    summary = to_customer_summary(tiny_log(), snapshot_date=pd.Timestamp("2024-06-30"))
    assert (summary[DATA_PULLED_DATE] == pd.Timestamp("2024-06-30")).all()


def test_summary_has_the_summary_columns_and_one_row_per_customer(dirty: SyntheticData) -> None:
    summary = to_customer_summary(dirty.transactions)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert set(summary[USER_ID]) == set(dirty.labels.index)
    assert summary[USER_ID].is_unique


def test_summary_totals_agree_with_the_features_of_the_cleaned_log(dirty: SyntheticData) -> None:
    summary = to_customer_summary(dirty.transactions, dirty.snapshot_date).set_index(USER_ID)
    cleaned, _ = clean_transactions(dirty.transactions)
    features = transaction_features(
        cleaned, FeaturesConfig(name=FeatureSet.lrfmc), dirty.snapshot_date
    )
    f = features.reindex(summary.index)
    assert (summary[TOTAL_TRANSACTION] == f["frequency"]).all()
    np.testing.assert_allclose(summary[TOTAL_MONEY_SPENT], f["monetary"])
    np.testing.assert_allclose(
        summary[TRAN_WITH_DISC] / summary[TOTAL_TRANSACTION], f["discount_rate"]
    )


def test_summary_without_a_discount_column_is_a_user_error() -> None:
    with pytest.raises(SegmentationError, match=DISCOUNT):
        to_customer_summary(tiny_log().drop(DISCOUNT))

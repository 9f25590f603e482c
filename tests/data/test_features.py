from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src import columns as schema
from src.data.dataset import Dataset
from src.data.features import (
    build_features,
    default_snapshot,
    select_features,
    summary_features,
    transaction_features,
)
from src.errors import SegmentationError

SNAPSHOT = pd.Timestamp("2024-01-11")
R, F, M, L, C = (
    schema.RECENCY,
    schema.FREQUENCY,
    schema.MONETARY,
    schema.LENGTH,
    schema.DISCOUNT_RATE,
)


def rfm(tx: pd.DataFrame, snapshot=None, **options) -> pd.DataFrame:
    return transaction_features(pl.from_pandas(tx), {"name": "rfm", **options}, snapshot)


def lrfmc(tx: pd.DataFrame, snapshot=None, **options) -> pd.DataFrame:
    return transaction_features(pl.from_pandas(tx), {"name": "lrfmc", **options}, snapshot)


def log(rows: list[tuple]) -> pd.DataFrame:
    columns = [
        schema.CUSTOMER_ID,
        schema.INVOICE_ID,
        schema.INVOICE_DATE,
        schema.AMOUNT,
        schema.DISCOUNT,
        schema.SIGNUP_DATE,
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame[schema.CUSTOMER_ID] = frame[schema.CUSTOMER_ID].astype("str")
    frame[schema.INVOICE_ID] = frame[schema.INVOICE_ID].astype("str")
    for column in (schema.INVOICE_DATE, schema.SIGNUP_DATE):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def shop() -> pd.DataFrame:
    """Customers a, b, c before SNAPSHOT; d only buys after it."""
    return log(
        [
            ("a", "i1", "2024-01-01 10:00", 10.0, 1.0, "2023-12-01"),
            ("a", "i1", "2024-01-01 10:00", 20.0, 0.0, "2023-12-01"),
            ("a", "i2", "2024-01-10 09:00", 15.0, 0.0, "2023-12-01"),
            ("a", "i9", "2024-01-11 08:00", 1000.0, 0.0, "2023-12-01"),  # on the snapshot day
            ("b", "i3", "2024-01-05 09:00", 10.0, 2.0, None),
            ("b", "i4", "2024-01-05 18:00", 30.0, 3.0, None),
            ("c", "i5", "2023-12-31 23:59", 100.0, 0.0, "2024-01-01"),  # signed up after buying
            ("d", "i10", "2024-01-12 12:00", 50.0, 0.0, "2024-01-01"),
        ]
    )


def expected(columns: dict[str, list[float]]) -> pd.DataFrame:
    frame = pd.DataFrame(columns, index=pd.Index(["a", "b", "c"], name=schema.CUSTOMER_ID))
    return frame.astype("float64")


@pytest.mark.parametrize(
    ("frequency", "monetary", "values"),
    [
        ("invoices", "total", {R: [0, 5, 10], F: [2, 2, 1], M: [45, 40, 100]}),
        ("days", "total", {R: [0, 5, 10], F: [2, 1, 1], M: [45, 40, 100]}),
        ("invoices", "mean", {R: [0, 5, 10], F: [2, 2, 1], M: [22.5, 20, 100]}),
    ],
)
def test_rfm_by_hand(frequency, monetary, values):
    result = rfm(shop(), SNAPSHOT, frequency=frequency, monetary=monetary)
    pd.testing.assert_frame_equal(result, expected(values))


@pytest.mark.parametrize(
    ("frequency", "monetary", "values"),
    [
        (
            "invoices",
            "total",
            {L: [41, 5, 10], R: [0, 5, 10], F: [2, 2, 1], M: [45, 40, 100], C: [0.5, 1, 0]},
        ),
        (
            "days",
            "mean",
            {L: [41, 5, 10], R: [0, 5, 10], F: [2, 1, 1], M: [22.5, 20, 100], C: [0.5, 1, 0]},
        ),
    ],
)
def test_lrfmc_by_hand(frequency, monetary, values):
    result = lrfmc(shop(), SNAPSHOT, frequency=frequency, monetary=monetary)
    pd.testing.assert_frame_equal(result, expected(values))


def test_lrfmc_without_signup_dates_starts_at_first_purchase():
    result = lrfmc(shop().drop(columns=schema.SIGNUP_DATE), SNAPSHOT)
    assert result[L].tolist() == [9.0, 5.0, 10.0]


def test_earlier_snapshot_ignores_later_transactions():
    result = rfm(shop(), "2024-01-06")
    pd.testing.assert_frame_equal(result, expected({R: [4, 0, 5], F: [1, 2, 1], M: [30, 40, 100]}))


def test_default_snapshot_is_midnight_after_last_transaction():
    assert default_snapshot(pl.from_pandas(shop())) == pd.Timestamp("2024-01-13")


def test_default_snapshot_includes_every_customer():
    assert rfm(shop()).index.tolist() == ["a", "b", "c", "d"]


def shop_with_returns() -> pd.DataFrame:
    returns = log(
        [
            ("a", "C7", "2024-01-10 20:00", -5.0, 0.0, "2023-12-01"),
            ("c", "C8", "2024-01-09 10:00", -30.0, 0.0, "2024-01-01"),
            ("e", "C9", "2024-01-09 10:00", -8.0, 0.0, None),  # a return without a purchase
        ]
    )
    tx = pd.concat([shop(), returns], ignore_index=True)
    tx[schema.IS_RETURN] = tx[schema.INVOICE_ID].str.startswith("C")
    return tx


def test_returns_net_out_of_monetary_only():
    result = rfm(shop_with_returns(), SNAPSHOT)
    pd.testing.assert_frame_equal(result, expected({R: [0, 5, 10], F: [2, 2, 1], M: [40, 40, 70]}))


def test_returns_do_not_count_as_discount_orders():
    result = lrfmc(shop_with_returns(), SNAPSHOT)
    assert result[C].tolist() == [0.5, 1.0, 0.0]


def test_invoice_shared_by_two_customers_is_an_order_of_each():
    tx = log(
        [
            ("a", "i1", "2024-01-01", 10.0, 1.0, None),
            ("b", "i1", "2024-01-02", 20.0, 0.0, None),
            ("b", "i1", "2024-01-02", 5.0, 0.0, None),
            ("b", "i2", "2024-01-03", 7.0, 1.0, None),
        ]
    )
    result = lrfmc(tx, SNAPSHOT)
    assert result[F].tolist() == [1.0, 2.0]
    assert result[C].tolist() == [1.0, 0.5]


def test_lines_without_invoice_id_count_no_order():
    tx = shop()
    tx.loc[tx[schema.CUSTOMER_ID] == "b", schema.INVOICE_ID] = None
    result = rfm(tx, SNAPSHOT)
    assert result[F].tolist() == [2.0, 0.0, 1.0]
    assert result[M].tolist() == [45.0, 40.0, 100.0]


@pytest.mark.parametrize(("function", "feature_set"), [(rfm, "rfm"), (lrfmc, "lrfmc")])
def test_output_columns_index_and_dtype(function, feature_set):
    result = function(shop(), SNAPSHOT)
    assert tuple(result.columns) == schema.FEATURE_SETS[feature_set]
    assert result.index.name == schema.CUSTOMER_ID
    assert (result.dtypes == "float64").all()


def test_lrfmc_without_discount_column_suggests_rfm():
    with pytest.raises(SegmentationError, match="discount.*features=rfm"):
        lrfmc(shop().drop(columns=schema.DISCOUNT), SNAPSHOT)


def test_snapshot_before_all_purchases_is_rejected():
    with pytest.raises(SegmentationError, match="no purchases before the snapshot date 2023-01-01"):
        rfm(shop(), "2023-01-01")


@pytest.mark.parametrize(
    ("option", "message"),
    [({"frequency": "weeks"}, "features.frequency"), ({"monetary": "median"}, "features.monetary")],
)
def test_unknown_definition_options_are_rejected(option, message):
    with pytest.raises(SegmentationError, match=message):
        rfm(shop(), SNAPSHOT, **option)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(min_value=0, max_value=400),  # day offset
            st.integers(min_value=0, max_value=3),  # invoice number
            st.floats(min_value=0.01, max_value=1e4),  # amount
        ),
        min_size=1,
        max_size=30,
    )
)
def test_feature_invariants(lines):
    start = pd.Timestamp("2023-01-01")
    tx = log(
        [
            (c, f"{c}{n}", start + pd.Timedelta(days=d), amount, 0.0, None)
            for c, d, n, amount in lines
        ]
    )
    result = lrfmc(tx)
    assert (result[R] >= 1).all()
    assert (result[L] >= result[R]).all()
    assert (result[F] >= 1).all()
    assert np.isclose(result[M].sum(), tx[schema.AMOUNT].sum())


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(min_value=0, max_value=60),  # day offset
            st.sampled_from(["o1", "o2", "o3", None]),  # invoice (shared across customers too)
            st.floats(min_value=-50, max_value=500),  # amount (negative: a return)
            st.sampled_from([0.0, 0.0, 1.5, -1.0]),  # discount
            st.booleans(),  # a return line
        ),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from(["invoices", "days"]),
)
def test_lrfmc_of_a_log_in_memory_equals_the_one_pass_plan(lines, frequency):
    """A log in memory groups customers and orders apart; a lazy log, orders then customers."""
    start = pd.Timestamp("2024-01-01")
    tx = log(
        [
            (c, inv, start + pd.Timedelta(days=d), amount, disc, None)
            for c, d, inv, amount, disc, _ in lines
        ]
    )
    tx[schema.INVOICE_ID] = [inv for _, _, inv, *_ in lines]
    tx[schema.IS_RETURN] = [ret for *_, ret in lines]
    frame = pl.from_pandas(tx)
    options = {"name": "lrfmc", "frequency": frequency}
    try:
        in_memory = transaction_features(frame, options, SNAPSHOT)
    except SegmentationError:  # no purchase before the snapshot: both say so
        with pytest.raises(SegmentationError):
            transaction_features(frame.lazy(), options, SNAPSHOT)
        return
    pd.testing.assert_frame_equal(in_memory, transaction_features(frame.lazy(), options, SNAPSHOT))


# -- summary schema --------------------------------------------------------------------------


def summary() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            schema.TOTAL_TRANSACTION: [4.0, 1.0, 0.0],
            schema.TOTAL_MONEY_SPENT: [200.0, 15.0, 0.0],
            schema.TRAN_WITH_DISC: [1.0, 0.0, 0.0],
            schema.LAST_ORDER_DATE: pd.to_datetime(["2024-03-01 15:00", "2024-01-15 00:00", None]),
            schema.CREATED_AT: pd.to_datetime(["2023-03-01", "2024-01-10", "2024-02-01"]),
            schema.DATA_PULLED_DATE: pd.to_datetime(["2024-03-31", "2024-04-01", "2024-04-01"]),
        },
        index=pd.Index(["u1", "u2", "u3"], name=schema.CUSTOMER_ID),
    )
    return frame


def summary_expected(columns: dict[str, list[float]]) -> pd.DataFrame:
    index = pd.Index(["u1", "u2"], name=schema.CUSTOMER_ID)
    return pd.DataFrame(columns, index=index).astype("float64")


def test_summary_rfm_uses_each_rows_pull_date():
    result = summary_features(summary(), "rfm")
    pd.testing.assert_frame_equal(result, summary_expected({R: [29, 77], F: [4, 1], M: [200, 15]}))


def test_summary_lrfmc():
    result = summary_features(summary(), "lrfmc")
    values = {L: [396, 82], R: [29, 77], F: [4, 1], M: [200, 15], C: [0.25, 0]}
    pd.testing.assert_frame_equal(result, summary_expected(values))


def test_summary_mean_order_value():
    result = summary_features(summary(), {"name": "rfm", "monetary": "mean"})
    assert result[M].tolist() == [50.0, 15.0]


@pytest.mark.parametrize("column", [schema.TRAN_WITH_DISC, schema.CREATED_AT])
def test_summary_lrfmc_names_missing_column(column):
    with pytest.raises(SegmentationError, match=f"{column}.*features=rfm"):
        summary_features(summary().drop(columns=column), "lrfmc")


def test_summary_snapshot_override_applies_to_every_row():
    result = summary_features(summary(), "rfm", snapshot_date="2024-04-10")
    assert result[R].tolist() == [39.0, 86.0]


def test_summary_snapshot_before_an_order_is_rejected():
    with pytest.raises(SegmentationError, match="before the last order of 1 customer"):
        summary_features(summary(), "rfm", snapshot_date="2024-02-01")


# -- build_features --------------------------------------------------------------------------


def test_build_features_from_log_uses_the_default_snapshot():
    dataset = Dataset(
        "shop", "transactions", "test", transactions=pl.from_pandas(shop()), snapshot_date=SNAPSHOT
    )
    expected = rfm(shop(), default_snapshot(pl.from_pandas(shop())))
    pd.testing.assert_frame_equal(build_features(dataset, "rfm"), expected)


def test_build_features_explicit_snapshot_wins():
    dataset = Dataset(
        "shop", "transactions", "test", transactions=pl.from_pandas(shop()), snapshot_date=SNAPSHOT
    )
    result = build_features(dataset, "rfm", snapshot_date="2024-01-06")
    pd.testing.assert_frame_equal(result, rfm(shop(), "2024-01-06"))


def test_build_features_from_summary():
    dataset = Dataset("s", "summary", "test", customers=summary())
    pd.testing.assert_frame_equal(
        build_features(dataset, "lrfmc"), summary_features(summary(), "lrfmc")
    )


def test_build_features_summary_rejects_day_frequency():
    dataset = Dataset("s", "summary", "test", customers=summary())
    with pytest.raises(SegmentationError, match="features.frequency=invoices"):
        build_features(dataset, {"name": "rfm", "frequency": "days"})


def feature_table() -> pd.DataFrame:
    index = pd.Index(["x", "y"], name=schema.CUSTOMER_ID)
    return pd.DataFrame({M: [3, 4], F: [1, 2], R: [9, 8]}, index=index)


def test_build_features_from_table_selects_in_order():
    dataset = Dataset("t", "features", "f.csv", customers=feature_table())
    result = build_features(dataset, "rfm")
    assert tuple(result.columns) == schema.RFM_FEATURES
    assert (result.dtypes == "float64").all()


def test_feature_table_missing_features_are_named():
    with pytest.raises(SegmentationError, match="needs the column.s. length_days, discount_rate"):
        select_features(feature_table(), "lrfmc")


def test_feature_table_with_holes_is_rejected():
    table = feature_table().astype("float64")
    table.loc["x", F] = np.nan
    with pytest.raises(SegmentationError, match=r"frequency \(1\)"):
        select_features(table, "rfm")


def test_unknown_feature_set():
    dataset = Dataset("shop", "transactions", "test", transactions=pl.from_pandas(shop()))
    with pytest.raises(SegmentationError, match="'rfmx'.*rfm, lrfmc"):
        build_features(dataset, "rfmx")

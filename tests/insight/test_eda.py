import pandas as pd
import polars as pl
import pytest

from src.columns import (
    AMOUNT,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_ID,
    IS_RETURN,
    QUANTITY,
    STOCK_CODE,
    UNIT_PRICE,
)
from src.errors import SegmentationError
from src.insight import eda


def _log(rows: list[tuple]) -> pl.DataFrame:
    """(customer, invoice, date, stock code, description, quantity, unit price, country)."""
    tx = pd.DataFrame(
        rows,
        columns=[
            CUSTOMER_ID,
            INVOICE_ID,
            INVOICE_DATE,
            STOCK_CODE,
            DESCRIPTION,
            QUANTITY,
            UNIT_PRICE,
            COUNTRY,
        ],
    )
    tx[INVOICE_DATE] = pd.to_datetime(tx[INVOICE_DATE])
    tx[QUANTITY] = tx[QUANTITY].astype(float)
    tx[UNIT_PRICE] = tx[UNIT_PRICE].astype(float)
    tx[AMOUNT] = tx[QUANTITY] * tx[UNIT_PRICE]
    tx[IS_RETURN] = tx[QUANTITY] < 0
    return pl.from_pandas(tx)


@pytest.fixture
def tx() -> pl.DataFrame:
    return _log(
        [
            ("c1", "i1", "2011-01-03", "A", "MUG", 2, 5.0, "UK"),
            ("c1", "i1", "2011-01-03", "B", "PLATE", 1, 10.0, "UK"),
            ("c2", "i2", "2011-01-20", "A", "MUG", 10, 5.0, "France"),
            ("c2", "r1", "2011-01-25", "A", "MUG", -4, 5.0, "France"),
            ("c1", "i3", "2011-02-14", "C", "VASE", 1, 100.0, "UK"),
            ("c3", "i4", "2012-03-01", "A", "Mug", 3, 5.0, "Germany"),
        ]
    )


def test_monthly_revenue_matches_hand_totals(tx):
    table = eda.monthly_revenue(tx).set_index("month")
    jan, feb = pd.Timestamp("2011-01-01"), pd.Timestamp("2011-02-01")
    assert table.loc[jan, "revenue"] == 2 * 5 + 10 + 10 * 5
    assert table.loc[jan, "orders"] == 2
    assert table.loc[jan, "customers"] == 2
    assert table.loc[jan, "avg_order_value"] == pytest.approx((2 * 5 + 10 + 10 * 5) / 2)
    assert table.loc[feb, "revenue"] == 100


def test_monthly_revenue_has_one_row_per_month_with_purchases(tx):
    months = eda.monthly_revenue(tx)["month"]
    expected = pd.to_datetime(["2011-01-01", "2011-02-01", "2012-03-01"])
    assert list(months) == list(expected)


def test_returns_do_not_count_as_orders(tx):
    values = eda.order_values(tx)
    assert "r1" not in values.index
    assert values["i1"] == 2 * 5 + 10


def test_orders_per_year_counts_months_seen(tx):
    table = eda.orders_per_year(tx).set_index("year")
    assert table.loc[2011, "months"] == 2
    assert table.loc[2011, "orders"] == 3
    assert table.loc[2012, "customers"] == 1


@pytest.mark.parametrize(("by", "first"), [("quantity", "A"), ("revenue", "C")])
def test_top_products_ranks_by_requested_measure(tx, by, first):
    table = eda.top_products(tx, by=by)
    assert table[STOCK_CODE].iloc[0] == first
    assert table[by].is_monotonic_decreasing


def test_top_products_uses_most_common_description(tx):
    table = eda.top_products(tx).set_index(STOCK_CODE)
    assert table.loc["A", DESCRIPTION] == "MUG"


def test_top_products_keeps_n(tx):
    assert len(eda.top_products(tx, n=2)) == 2


def test_top_products_rejects_unknown_measure(tx):
    with pytest.raises(SegmentationError, match="by="):
        eda.top_products(tx, by="margin")


def test_revenue_by_country_shares_sum_to_one_when_all_shown(tx):
    table = eda.revenue_by_country(tx)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["revenue"].is_monotonic_decreasing


def test_revenue_by_country_keeps_top_n(tx):
    table = eda.revenue_by_country(tx, n=1)
    assert list(table[COUNTRY]) == ["UK"]


def test_order_value_summary_counts_orders(tx):
    summary = eda.order_value_summary(eda.order_values(tx))
    assert summary["orders"].iloc[0] == 4
    assert summary["max"].iloc[0] == 100


@pytest.mark.parametrize(
    ("dropped", "absent"),
    [
        ((STOCK_CODE,), {"top_products_quantity", "top_products_revenue"}),
        ((COUNTRY,), {"revenue_by_country"}),
        ((STOCK_CODE, DESCRIPTION, COUNTRY), {"top_products_quantity", "revenue_by_country"}),
    ],
)
def test_eda_tables_skip_parts_whose_columns_are_missing(tx, dropped, absent):
    tables = eda.eda_tables(tx.drop(list(dropped)))
    assert not absent & tables.keys()
    assert "monthly_revenue" in tables


def test_missing_required_column_is_a_user_error(tx):
    with pytest.raises(SegmentationError, match=INVOICE_ID):
        eda.monthly_revenue(tx.drop(INVOICE_ID))

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

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
from src.insight import eda
from src.viz import eda as eda_figures


def _log(rows: list[tuple]) -> pd.DataFrame:
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
    return tx


@pytest.fixture
def tx() -> pd.DataFrame:
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


@pytest.mark.parametrize(
    ("dropped", "absent"),
    [((STOCK_CODE,), "top_products"), ((COUNTRY,), "revenue_by_country")],
)
def test_eda_figures_skip_parts_whose_columns_are_missing(tx, dropped, absent):
    log = tx.drop(columns=list(dropped))
    figures = eda_figures.eda_figures(eda.eda_tables(log), eda.order_values(log))
    assert absent not in figures
    assert all(isinstance(f, Figure) and f.axes for f in figures.values())


def test_eda_figures_cover_every_part_of_a_full_log(tx):
    figures = eda_figures.eda_figures(eda.eda_tables(tx), eda.order_values(tx))
    assert set(figures) == {"monthly_revenue", "top_products", "revenue_by_country", "order_values"}


def test_product_labels_fall_back_to_stock_code():
    table = pd.DataFrame({STOCK_CODE: ["X1", "X2"], DESCRIPTION: ["LONG NAME", np.nan]})
    assert eda_figures._product_labels(table) == ["Long Name", "X2"]

"""Exploratory tables on the cleaned canonical transaction log (their figures: ``src.viz.eda``).

Every table is computed on purchase lines only (``src.data.cleaning.purchase_mask``: returns kept
by ``cleaning.returns=net`` are left out), so revenue is gross sales and an order is an invoice
that bought something. Optional columns (``stock_code``, ``description``, ``country``) only
feed their own table or figure; when they are missing that part is skipped rather than failing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from src.columns import (
    AMOUNT,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_ID,
    QUANTITY,
    STOCK_CODE,
    require,
)
from src.data.cleaning import purchase_mask
from src.errors import SegmentationError


def _require(tx: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    require(tx, columns, what)


def purchases(tx) -> pd.DataFrame:
    """Purchase lines only (``cleaning.purchase_mask``), so returns are neither orders nor sales."""
    frame = pl.from_pandas(tx) if isinstance(tx, pd.DataFrame) else tx
    return frame.filter(purchase_mask(frame)).to_pandas()


def monthly_revenue(tx: pd.DataFrame) -> pd.DataFrame:
    """Revenue, orders, active customers and average order value per calendar month.

    ``month`` is the first day of the month; months without any purchase do not appear.
    """
    _require(tx, (INVOICE_DATE, INVOICE_ID, CUSTOMER_ID, AMOUNT), "the monthly revenue table")
    buys = purchases(tx)
    month = buys[INVOICE_DATE].dt.to_period("M").dt.start_time.rename("month")
    table = buys.groupby(month).agg(
        revenue=(AMOUNT, "sum"),
        orders=(INVOICE_ID, "nunique"),
        customers=(CUSTOMER_ID, "nunique"),
    )
    table["avg_order_value"] = table["revenue"] / table["orders"]
    return table.reset_index()


def orders_per_year(tx: pd.DataFrame) -> pd.DataFrame:
    """Orders, customers and revenue per calendar year.

    ``months`` counts the months with purchases, so a partial first or last year is visible.
    """
    _require(tx, (INVOICE_DATE, INVOICE_ID, CUSTOMER_ID, AMOUNT), "the orders-per-year table")
    buys = purchases(tx)
    dates = buys[INVOICE_DATE]
    table = (
        buys.assign(year=dates.dt.year, _month=dates.dt.month)
        .groupby("year")
        .agg(
            months=("_month", "nunique"),
            orders=(INVOICE_ID, "nunique"),
            customers=(CUSTOMER_ID, "nunique"),
            revenue=(AMOUNT, "sum"),
        )
    )
    return table.reset_index()


def top_products(tx: pd.DataFrame, by: str = "quantity", n: int = 10) -> pd.DataFrame:
    """The ``n`` best-selling products by units sold (``by="quantity"``) or by revenue.

    A product is a stock code; its description is the one used most often for that code,
    because sources often spell the same item in several ways.
    """
    if by not in ("quantity", "revenue"):
        raise SegmentationError(
            f"top_products got by={by!r}; use by='quantity' (units sold) or by='revenue'."
        )
    _require(tx, (STOCK_CODE, INVOICE_ID, CUSTOMER_ID, QUANTITY, AMOUNT), "the top products table")
    buys = purchases(tx)
    table = buys.groupby(STOCK_CODE).agg(
        quantity=(QUANTITY, "sum"),
        revenue=(AMOUNT, "sum"),
        orders=(INVOICE_ID, "nunique"),
        customers=(CUSTOMER_ID, "nunique"),
    )
    if DESCRIPTION in buys.columns:
        names = (
            buys.dropna(subset=[DESCRIPTION])
            .groupby([STOCK_CODE, DESCRIPTION])
            .size()
            .sort_values(ascending=False, kind="stable")
            .reset_index()
            .drop_duplicates(STOCK_CODE)
            .set_index(STOCK_CODE)[DESCRIPTION]
        )
        table.insert(0, DESCRIPTION, names.reindex(table.index))
    table = table.sort_values([by, "orders"], ascending=False, kind="stable").head(n)
    return table.reset_index()


def revenue_by_country(tx: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """Revenue, share of total revenue, customers and orders for the ``n`` largest countries."""
    _require(tx, (COUNTRY, INVOICE_ID, CUSTOMER_ID, AMOUNT), "the revenue by country table")
    buys = purchases(tx)
    table = buys.groupby(COUNTRY).agg(
        revenue=(AMOUNT, "sum"),
        customers=(CUSTOMER_ID, "nunique"),
        orders=(INVOICE_ID, "nunique"),
    )
    total = table["revenue"].sum()
    table.insert(1, "share", table["revenue"] / total if total else np.nan)
    return table.sort_values("revenue", ascending=False, kind="stable").head(n).reset_index()


def order_values(tx: pd.DataFrame) -> pd.Series:
    """Total value of each order (invoice), indexed by invoice id."""
    _require(tx, (INVOICE_ID, AMOUNT), "the order value distribution")
    return purchases(tx).groupby(INVOICE_ID)[AMOUNT].sum().rename("order_value")


def _has(tx: pd.DataFrame, *columns: str) -> bool:
    return all(c in tx.columns for c in columns)


def eda_tables(tx: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """All EDA tables the log supports, keyed by a short name."""
    tables = {
        "monthly_revenue": monthly_revenue(tx),
        "orders_per_year": orders_per_year(tx),
    }
    if _has(tx, STOCK_CODE, QUANTITY):
        tables["top_products_quantity"] = top_products(tx, by="quantity")
        tables["top_products_revenue"] = top_products(tx, by="revenue")
    if _has(tx, COUNTRY):
        tables["revenue_by_country"] = revenue_by_country(tx)
    tables["order_value_summary"] = order_value_summary(order_values(tx))
    return tables


def order_value_summary(values: pd.Series) -> pd.DataFrame:
    """One row: number of orders and the mean, quartiles, tail percentiles and max of their value."""
    row: dict[str, float] = {"orders": len(values), "mean": values.mean(), "min": values.min()}
    for name, q in (("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p90", 0.9), ("p99", 0.99)):
        row[name] = values.quantile(q) if len(values) else np.nan
    row["max"] = values.max()
    return pd.DataFrame([row])

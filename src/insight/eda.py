"""Exploratory tables on the cleaned canonical transaction log (their figures: ``src.viz.eda``).

The log is a polars DataFrame; the aggregations run in polars and the (small) tables come back
as pandas DataFrames for the figures, the report and MLflow. Every table is computed on
purchase lines only (``src.data.cleaning.purchase_mask``: returns kept by
``cleaning.returns=net`` are left out), so revenue is gross sales and an order is an invoice
that bought something. Optional columns (``stock_code``, ``description``, ``country``) only feed
their own table or figure; when they are missing that part is skipped rather than failing.
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
    names,
    require,
)
from src.data.cleaning import purchase_mask
from src.errors import SegmentationError


def as_log(tx) -> pl.DataFrame:
    """The log as polars (a pandas log, e.g. built by hand in a notebook, is converted)."""
    return pl.from_pandas(tx) if isinstance(tx, pd.DataFrame) else tx


def purchases(tx: pl.DataFrame) -> pl.LazyFrame:
    """Purchase lines only (``cleaning.purchase_mask``), so returns are neither orders nor sales."""
    tx = as_log(tx)
    return tx.lazy().filter(purchase_mask(tx))


def _distinct(column: str) -> pl.Expr:
    return pl.col(column).drop_nulls().n_unique()


def monthly_revenue(tx: pl.DataFrame) -> pd.DataFrame:
    """Revenue, orders, active customers and average order value per calendar month.

    ``month`` is the first day of the month; months without any purchase do not appear.
    """
    require(tx, (INVOICE_DATE, INVOICE_ID, CUSTOMER_ID, AMOUNT), "the monthly revenue table")
    table = (
        purchases(tx)
        .filter(pl.col(INVOICE_DATE).is_not_null())
        .group_by(pl.col(INVOICE_DATE).dt.truncate("1mo").alias("month"))
        .agg(
            pl.col(AMOUNT).sum().alias("revenue"),
            _distinct(INVOICE_ID).alias("orders"),
            _distinct(CUSTOMER_ID).alias("customers"),
        )
        .with_columns((pl.col("revenue") / pl.col("orders")).alias("avg_order_value"))
        .sort("month")
        .collect()
    )
    return table.to_pandas()


def orders_per_year(tx: pl.DataFrame) -> pd.DataFrame:
    """Orders, customers and revenue per calendar year.

    ``months`` counts the months with purchases, so a partial first or last year is visible.
    """
    require(tx, (INVOICE_DATE, INVOICE_ID, CUSTOMER_ID, AMOUNT), "the orders-per-year table")
    date = pl.col(INVOICE_DATE)
    table = (
        purchases(tx)
        .filter(date.is_not_null())
        .group_by(date.dt.year().cast(pl.Int64).alias("year"))
        .agg(
            date.dt.month().n_unique().alias("months"),
            _distinct(INVOICE_ID).alias("orders"),
            _distinct(CUSTOMER_ID).alias("customers"),
            pl.col(AMOUNT).sum().alias("revenue"),
        )
        .sort("year")
        .collect()
    )
    return table.to_pandas()


def most_common_description(lines: pl.LazyFrame, key: str = STOCK_CODE) -> pl.LazyFrame:
    """The description used most often for each ``key`` (ties: alphabetical), for display."""
    return (
        lines.filter(pl.col(key).is_not_null() & pl.col(DESCRIPTION).is_not_null())
        .group_by(key, DESCRIPTION)
        .len()
        .sort([key, "len", DESCRIPTION], descending=[False, True, False])
        .unique(subset=key, keep="first", maintain_order=True)
        .select(key, DESCRIPTION)
    )


def top_products(tx: pl.DataFrame, by: str = "quantity", n: int = 10) -> pd.DataFrame:
    """The ``n`` best-selling products by units sold (``by="quantity"``) or by revenue.

    A product is a stock code; its description is the one used most often for that code,
    because sources often spell the same item in several ways.
    """
    if by not in ("quantity", "revenue"):
        raise SegmentationError(
            f"top_products got by={by!r}; use by='quantity' (units sold) or by='revenue'."
        )
    require(tx, (STOCK_CODE, INVOICE_ID, CUSTOMER_ID, QUANTITY, AMOUNT), "the top products table")
    buys = purchases(tx).filter(pl.col(STOCK_CODE).is_not_null())
    table = buys.group_by(STOCK_CODE).agg(
        pl.col(QUANTITY).sum().alias("quantity"),
        pl.col(AMOUNT).sum().alias("revenue"),
        _distinct(INVOICE_ID).alias("orders"),
        _distinct(CUSTOMER_ID).alias("customers"),
    )
    table = table.sort([by, "orders", STOCK_CODE], descending=[True, True, False]).head(n)
    columns = [STOCK_CODE, "quantity", "revenue", "orders", "customers"]
    if DESCRIPTION in names(as_log(tx)):
        descriptions = most_common_description(buys)
        table = table.join(descriptions, on=STOCK_CODE, how="left", maintain_order="left")
        columns.insert(1, DESCRIPTION)
    return table.select(columns).collect().to_pandas()


def revenue_by_country(tx: pl.DataFrame, n: int = 15) -> pd.DataFrame:
    """Revenue, share of total revenue, customers and orders for the ``n`` largest countries."""
    require(tx, (COUNTRY, INVOICE_ID, CUSTOMER_ID, AMOUNT), "the revenue by country table")
    table = (
        purchases(tx)
        .filter(pl.col(COUNTRY).is_not_null())
        .group_by(COUNTRY)
        .agg(
            pl.col(AMOUNT).sum().alias("revenue"),
            _distinct(CUSTOMER_ID).alias("customers"),
            _distinct(INVOICE_ID).alias("orders"),
        )
        .collect()
    )
    total = table["revenue"].sum()
    share = pl.col("revenue") / total if total else pl.lit(np.nan)
    table = table.with_columns(share.alias("share")).sort(
        ["revenue", COUNTRY], descending=[True, False]
    )
    return table.head(n).select(COUNTRY, "revenue", "share", "customers", "orders").to_pandas()


def order_values(tx: pl.DataFrame) -> pd.Series:
    """Total value of each order (invoice), indexed by invoice id."""
    require(tx, (INVOICE_ID, AMOUNT), "the order value distribution")
    table = (
        purchases(tx)
        .filter(pl.col(INVOICE_ID).is_not_null())
        .group_by(INVOICE_ID)
        .agg(pl.col(AMOUNT).sum().alias("order_value"))
        .sort(INVOICE_ID)
        .collect()
    )
    index = pd.Index(table[INVOICE_ID].to_list(), dtype="str", name=INVOICE_ID)
    return pd.Series(table["order_value"].to_numpy(), index=index, name="order_value")


def eda_tables(tx: pl.DataFrame) -> dict[str, pd.DataFrame]:
    """All EDA tables the log supports, keyed by a short name."""
    tx = as_log(tx)
    present = names(tx)
    tables = {
        "monthly_revenue": monthly_revenue(tx),
        "orders_per_year": orders_per_year(tx),
    }
    if STOCK_CODE in present and QUANTITY in present:
        tables["top_products_quantity"] = top_products(tx, by="quantity")
        tables["top_products_revenue"] = top_products(tx, by="revenue")
    if COUNTRY in present:
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

"""Exploratory tables and figures on the cleaned canonical transaction log.

Every table is computed on purchase lines only: lines flagged ``is_return`` (or, when the flag is
absent, lines with a negative amount) are left out, so revenue is gross sales and an order is an
invoice that bought something. Optional columns (``stock_code``, ``description``, ``country``) only
feed their own table or figure; when they are missing that part is skipped rather than failing.

Figures are built with the object-oriented ``matplotlib.figure.Figure`` API (no pyplot global
state), so callers can create many of them in a sweep without leaking memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from src.errors import SegmentationError
from src.schema import (
    AMOUNT,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_ID,
    IS_RETURN,
    QUANTITY,
    STOCK_CODE,
)

BAR_COLOUR = "#4C72B0"
LINE_COLOUR = "#DD8452"
LABEL_WIDTH = 32


def _require(tx: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in tx.columns]
    if missing:
        raise SegmentationError(
            f"The transaction log has no column(s) {', '.join(missing)}, which {what} needs. "
            f"It has: {', '.join(map(str, tx.columns))}. Load the data through the project's "
            "loaders so the columns get their canonical names (see src/schema.py)."
        )


def purchases(tx: pd.DataFrame) -> pd.DataFrame:
    """Purchase lines only, so returns do not count as orders or as negative sales."""
    if IS_RETURN in tx.columns:
        is_return = tx[IS_RETURN].fillna(False).astype(bool)
    elif AMOUNT in tx.columns:
        is_return = tx[AMOUNT] < 0
    else:
        return tx
    return tx.loc[~is_return]


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


def _thousands(value: float, _pos: int | None = None) -> str:
    return f"{value:,.0f}"


def _short(label: object) -> str:
    text = str(label)
    return text if len(text) <= LABEL_WIDTH else text[: LABEL_WIDTH - 1] + "…"


def _product_labels(table: pd.DataFrame) -> list[str]:
    if DESCRIPTION not in table.columns:
        return [_short(code) for code in table[STOCK_CODE]]
    described = table[DESCRIPTION].fillna(table[STOCK_CODE]).astype(str).str.strip().str.title()
    return [_short(label) for label in described]


def monthly_revenue_figure(table: pd.DataFrame) -> Figure:
    """Revenue bars with the order count as a line on a second axis."""
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax = fig.add_subplot()
    labels = pd.to_datetime(table["month"]).dt.strftime("%b %Y")
    x = np.arange(len(table))
    ax.bar(x, table["revenue"], color=BAR_COLOUR, label="Revenue")
    ax.set_ylabel("Revenue")
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xticks(x, labels, rotation=45, ha="right")
    twin = ax.twinx()
    twin.plot(x, table["orders"], color=LINE_COLOUR, marker="o", label="Orders")
    twin.set_ylabel("Orders")
    twin.set_ylim(bottom=0)
    twin.yaxis.set_major_formatter(FuncFormatter(_thousands))
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", frameon=False)
    ax.set_title("Monthly revenue and orders")
    ax.spines[["top"]].set_visible(False)
    twin.spines[["top"]].set_visible(False)
    return fig


def top_products_figure(by_quantity: pd.DataFrame, by_revenue: pd.DataFrame) -> Figure:
    """Side-by-side horizontal bars: best sellers by units and by revenue."""
    fig = Figure(figsize=(12, 0.42 * max(len(by_quantity), len(by_revenue)) + 1.4))
    fig.set_layout_engine("constrained")
    panels = ((by_quantity, "quantity", "Units sold"), (by_revenue, "revenue", "Revenue"))
    for i, (table, column, xlabel) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        y = np.arange(len(table))
        ax.barh(y, table[column], color=BAR_COLOUR if i == 0 else LINE_COLOUR)
        ax.set_yticks(y, _product_labels(table), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_title(f"Top {len(table)} products by {xlabel.lower()}")
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def revenue_by_country_figure(table: pd.DataFrame) -> Figure:
    """Share of revenue per country; one home market usually dwarfs the rest, so labels say %."""
    fig = Figure(figsize=(8, 0.36 * len(table) + 1.3), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(table))
    ax.barh(y, table["share"], color=BAR_COLOUR)
    ax.set_yticks(y, [_short(c) for c in table[COUNTRY]], fontsize=9)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=None))
    for yi, share in zip(y, table["share"], strict=True):
        ax.annotate(
            f"{share:.1%}",
            (share, yi),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("Share of revenue (log scale)")
    ax.set_title("Revenue by country")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def order_value_figure(values: pd.Series) -> Figure:
    """Histogram of order values on log-spaced bins, since order values span several decades."""
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    positive = values[values > 0]
    if len(positive):
        low, high = positive.min(), positive.max()
        bins = np.geomspace(low, high if high > low else low * 10, 50)
        ax.hist(positive, bins=bins, color=BAR_COLOUR, edgecolor="white", linewidth=0.4)
        median = float(positive.median())
        ax.axvline(median, color=LINE_COLOUR, linestyle="--", label=f"median {median:,.2f}")
        ax.legend(frameon=False)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.set_xlabel("Order value (log scale)")
    ax.set_ylabel("Orders")
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_title("Distribution of order values")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def eda_figures(tx: pd.DataFrame) -> dict[str, Figure]:
    """All EDA figures the log supports, keyed by a short name."""
    figures = {"monthly_revenue": monthly_revenue_figure(monthly_revenue(tx))}
    if _has(tx, STOCK_CODE, QUANTITY):
        figures["top_products"] = top_products_figure(
            top_products(tx, by="quantity"), top_products(tx, by="revenue")
        )
    if _has(tx, COUNTRY):
        figures["revenue_by_country"] = revenue_by_country_figure(revenue_by_country(tx))
    figures["order_values"] = order_value_figure(order_values(tx))
    return figures

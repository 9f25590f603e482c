"""Figures of the exploratory analysis: they take the tables of ``src.insight.eda``.

Figures are built with the object-oriented ``matplotlib.figure.Figure`` API (no pyplot global
state), so callers can create many of them without leaking memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from src.columns import COUNTRY, DESCRIPTION, STOCK_CODE

BAR_COLOUR = "#4C72B0"
LINE_COLOUR = "#DD8452"
LABEL_WIDTH = 32


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


def eda_figures(tables: dict[str, pd.DataFrame], order_values: pd.Series) -> dict[str, Figure]:
    """A figure for each EDA table present (``src.insight.eda.eda_tables``), keyed by name."""
    figures = {"monthly_revenue": monthly_revenue_figure(tables["monthly_revenue"])}
    if "top_products_quantity" in tables:
        figures["top_products"] = top_products_figure(
            tables["top_products_quantity"], tables["top_products_revenue"]
        )
    if "revenue_by_country" in tables:
        figures["revenue_by_country"] = revenue_by_country_figure(tables["revenue_by_country"])
    figures["order_values"] = order_value_figure(order_values)
    return figures

"""Tiny input tables (UCI-style log lines, a per-customer summary) and a writer for every
file format the readers take."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from src import columns as schema
from tests.conftest import ONLINE_RETAIL_COLUMNS

UCI_COLUMNS = ONLINE_RETAIL_COLUMNS
DATE_STYLES = {
    "iso": ["2010-12-01 08:26:00", "2010-12-01 08:28:00", "2011-01-13 17:05:00"],
    "uci": ["12/1/2010 8:26", "12/1/2010 8:28", "1/13/2011 17:05"],
}


def uci_frame(dates: list[str]) -> pd.DataFrame:
    """Three UCI-style lines as text, the way they sit in a CSV file."""
    return pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536366", "C536379"],
            "StockCode": ["85123A", "22633", "D"],
            "Description": ["WHITE HANGING HEART ", "HAND WARMER", "Discount"],
            "Quantity": ["6", "6", "-1"],
            "InvoiceDate": dates,
            "UnitPrice": ["2.55", "1.85", "27.5"],
            "CustomerID": ["17850.0", "", "14527.0"],
            "Country": ["United Kingdom", "United Kingdom", "France"],
        }
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        frame.to_csv(path, index=False)
    elif name.endswith(".xlsx"):
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def summary_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uid": ["u1", "u2"],
            "total_transaction": [3, 1],
            "total_money_spent": [120.0, 15.5],
            "tran_with_disc": [1, 0],
            "last_order_date": ["2024-03-01", "2024-01-15"],
            "created_at": ["2023-06-01", "2024-01-15"],
            "data_pulled_date": ["2024-03-31", "2024-04-01"],
        }
    )


SUMMARY_COLUMNS = {c: c for c in schema.SUMMARY_COLUMNS} | {"user_id": "uid"}

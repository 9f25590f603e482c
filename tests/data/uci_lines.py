"""Tiny UCI-style logs written to files in every format the readers take."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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

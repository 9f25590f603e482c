"""The form every loader returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import polars as pl

DatasetKind = Literal["transactions", "summary", "features"]


@dataclass
class Dataset:
    """A loaded dataset in canonical column names (see ``src.columns``).

    ``transactions`` is set for transaction logs (a polars DataFrame; ``log`` is the lazy query
    that reads it, see ``src.data.load.open_dataset``), ``customers`` for per-customer tables
    (the summary schema or precomputed features, pandas, indexed by ``customer_id``).
    ``ground_truth`` holds planted segment labels (synthetic data only) and is never a feature.
    """

    name: str
    kind: DatasetKind
    source: str
    transactions: pl.DataFrame | None = None
    customers: pd.DataFrame | None = None
    ground_truth: pd.Series | None = None
    snapshot_date: pd.Timestamp | None = None
    log: Any = None

    @property
    def has_products(self) -> bool:
        from src.columns import STOCK_CODE

        return self.transactions is not None and STOCK_CODE in self.transactions.columns

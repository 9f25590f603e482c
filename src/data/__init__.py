"""Everything up to the per-customer feature table: loading, synthetic data, cleaning, features.

Transaction logs are polars DataFrames; ``log_rows`` and ``log_customers`` answer the two
questions jobs ask of a log without looking inside it.
"""

from __future__ import annotations


def log_rows(tx) -> int:
    """Number of lines of a transaction log."""
    return int(tx.height) if hasattr(tx, "height") else len(tx)


def log_customers(tx) -> int:
    """Number of distinct known customers in a transaction log."""
    from src.columns import CUSTOMER_ID

    return int(tx[CUSTOMER_ID].drop_nulls().n_unique())

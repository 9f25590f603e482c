"""Everything up to the per-customer feature table: loading, synthetic data, cleaning, features.

``customer_features`` is the entry for notebooks and scripts.

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


def customer_features(dataset, cleaning="default", features="rfm", snapshot_date=None, **kwargs):
    """The per-customer feature table of a dataset (see ``src.data.prepare.customer_features``).

    Example: ``customer_features("online_retail", "classic", "rfm", "2011-12-10")``, or a
    mapping shaped like ``conf/dataset/*.yaml`` for ``dataset``.
    """
    from src.data.prepare import customer_features as build

    return build(dataset, cleaning, features, snapshot_date, **kwargs)

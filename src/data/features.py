"""Per-customer RFM and LRFMC features: pure functions, no I/O.

Every function returns a float64 pandas DataFrame indexed by ``customer_id`` (``str``, sorted)
whose columns are exactly ``FEATURE_SETS[feature_set]`` in that order. Definitions, for a
snapshot date ``S`` (default: ``default_snapshot``, midnight after the last transaction; only
transactions strictly before ``S`` are used, so a log can be scored as it stood at an earlier
date):

- **recency_days** (R): whole days elapsed from the customer's last purchase to ``S``:
  ``(S - last_purchase).days``, i.e. the elapsed time rounded down. With the default ``S``
  (midnight after the last transaction) a purchase at noon on the last day gives 0, one at noon
  the day before gives 1; logs with dates only give whole calendar days. This is the
  convention of the published Online Retail RFM figures (mean 92.06, median 50, max 373).
- **frequency** (F): number of distinct invoices (orders). Option ``frequency="days"``: number
  of distinct calendar days with a purchase, which merges several orders placed on one day.
- **monetary** (M): total spend, the sum of ``amount``. Option ``monetary="mean"``: mean order
  value, total spend divided by the number of distinct invoices.
- **length_days** (L): whole days elapsed from the customer's start to ``S``; the start is the
  earlier of ``signup_date`` (when the log has it) and the first purchase.
- **discount_rate** (C): share of the customer's orders that used a discount, i.e. orders
  whose summed ``discount`` is above zero, between 0 and 1. (An alternative found in the
  literature is the mean discount rate, ``discount / (amount + discount)`` averaged over
  orders; it is not used, because the summary schema only records how many orders had a
  discount, and both kinds of data should give the same feature.)

Amounts and discounts are summed exactly, in millionths of the currency unit, so a customer's
total does not depend on the order of the lines or on the engine that adds them (polars here,
Spark in ``src.data.spark``).

Returns (rows with ``is_return=True``, kept by ``cleaning.returns=net``) carry negative
amounts: they reduce monetary but are not orders, so they never count towards frequency,
recency, length or the discount share. Customers with no purchase before ``S`` get no row.

For the per-customer summary schema: F = ``total_transaction``, M = ``total_money_spent``
(``"mean"``: divided by ``total_transaction``), C = ``tran_with_disc / total_transaction``,
R from ``last_order_date`` and L from ``created_at``, both counted to the row's own
``data_pulled_date``. Customers with no order (``total_transaction`` of 0 or no
``last_order_date``) get no row.

The transaction features are one lazy polars query (``plan_features``): one group-by per
customer over the log, plus one per order for the discount share. ``finish_features`` turns
its per-customer aggregates into the feature table once the snapshot is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import polars as pl

from src.columns import (
    AMOUNT,
    CREATED_AT,
    CUSTOMER_ID,
    DATA_PULLED_DATE,
    DISCOUNT,
    DISCOUNT_RATE,
    FEATURE_SETS,
    FREQUENCY,
    INVOICE_DATE,
    INVOICE_ID,
    LAST_ORDER_DATE,
    LENGTH,
    MONETARY,
    RECENCY,
    SIGNUP_DATE,
    TOTAL_MONEY_SPENT,
    TOTAL_TRANSACTION,
    TRAN_WITH_DISC,
    names,
    require,
)
from src.config.schema import FeaturesConfig, FeatureSet, FrequencyDef, MonetaryDef
from src.data.cleaning import purchase_mask
from src.data.dataset import Dataset
from src.data.options import typed_options
from src.errors import SegmentationError

# Money is summed in integer millionths of the currency unit (exact, order-independent).
MONEY_SCALE = 1_000_000
_DAY_US = 86_400_000_000
_LAST, _FIRST, _SIGNUP = "_last", "_first", "_signup"
_ORDERS, _DAYS, _SPEND, _BOUGHT, _DISCOUNTED = (
    "_orders",
    "_days",
    "_spend",
    "_bought",
    "_discounted",
)


def features_config(cfg: FeaturesConfig | Mapping | str) -> FeaturesConfig:
    """The typed feature definition; a feature-set name such as ``"rfm"`` means its defaults."""
    if isinstance(cfg, str | FeatureSet):
        cfg = {"name": getattr(cfg, "value", cfg)}
    if isinstance(cfg, Mapping) and cfg.get("name") not in (None, *FEATURE_SETS):
        raise SegmentationError(
            f"features={cfg.get('name')!r} is not a known feature set. Use one of "
            f"{', '.join(FEATURE_SETS)}, e.g. features=rfm."
        )
    return typed_options(FeaturesConfig, cfg, "features")


def default_snapshot(tx: pl.DataFrame | pl.LazyFrame | datetime | None) -> pd.Timestamp:
    """Midnight after the last transaction: a purchase on the last day has recency 0.

    ``tx`` is a log, or already its last transaction time.
    """
    last = tx
    if isinstance(tx, pl.DataFrame | pl.LazyFrame):
        last = tx.lazy().select(pl.col(INVOICE_DATE).max()).collect().item()
    if last is None or pd.isna(last):
        raise SegmentationError(
            "the transaction log has no dated rows, so there is no default snapshot date. "
            "Check the invoice_date mapping under dataset.columns, or set snapshot_date=YYYY-MM-DD."
        )
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def money(column: str) -> pl.Expr:
    """``column`` in integer millionths (missing: 0), for exact sums."""
    return (
        (pl.col(column).fill_null(0.0) * MONEY_SCALE)
        .round(mode="half_away_from_zero")
        .cast(pl.Int64)
    )


@dataclass
class FeaturePlan:
    """Lazy per-customer aggregates of a log, and what turns them into features."""

    aggregates: pl.LazyFrame  # one row per customer with a purchase before the snapshot
    last_date: pl.LazyFrame  # one row: the last transaction time (for the default snapshot)
    features: FeaturesConfig
    snapshot: pd.Timestamp | None  # explicit snapshot, or None for the default rule


def plan_features(
    tx: pl.LazyFrame,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
) -> FeaturePlan:
    """The per-customer aggregates behind the features, as one lazy query on a cleaned log."""
    cfg = features_config(features)
    present = names(tx)
    if cfg.name is FeatureSet.lrfmc:
        require(
            tx,
            (DISCOUNT,),
            "feature set lrfmc (discount information of the transaction log)",
            "Map the column holding each line's discount amount with "
            "dataset.columns.discount=<column>, or use features=rfm.",
        )
    snapshot = None if snapshot_date is None else pd.Timestamp(snapshot_date)
    last_date = tx.select(pl.col(INVOICE_DATE).max().alias(_LAST))
    dated = pl.col(INVOICE_DATE).is_not_null()
    if snapshot is not None:
        dated = pl.col(INVOICE_DATE) < snapshot.to_pydatetime()
    lines = tx.filter(dated & pl.col(CUSTOMER_ID).is_not_null())
    buy = purchase_mask(present)
    with_invoice = buy & pl.col(INVOICE_ID).is_not_null()
    aggs = [
        buy.any().alias(_BOUGHT),
        pl.col(INVOICE_DATE).filter(buy).max().alias(_LAST),
        pl.col(INVOICE_ID).filter(with_invoice).n_unique().alias(_ORDERS),
        money(AMOUNT).sum().alias(_SPEND),  # purchases and returns: returns net out
    ]
    if cfg.frequency is FrequencyDef.days:
        aggs.append(pl.col(INVOICE_DATE).filter(buy).dt.date().n_unique().alias(_DAYS))
    if cfg.name is FeatureSet.lrfmc:
        aggs.append(pl.col(INVOICE_DATE).filter(buy).min().alias(_FIRST))
        if SIGNUP_DATE in present:
            aggs.append(pl.col(SIGNUP_DATE).filter(buy).min().alias(_SIGNUP))
    per_customer = lines.group_by(CUSTOMER_ID).agg(aggs).filter(pl.col(_BOUGHT))
    if cfg.name is FeatureSet.lrfmc:
        orders = (
            lines.filter(with_invoice)
            .group_by(CUSTOMER_ID, INVOICE_ID)
            .agg(money(DISCOUNT).sum().alias(_DISCOUNTED))
            .group_by(CUSTOMER_ID)
            .agg((pl.col(_DISCOUNTED) > 0).sum().alias(_DISCOUNTED))
        )
        per_customer = per_customer.join(orders, on=CUSTOMER_ID, how="left")
    return FeaturePlan(per_customer, last_date, cfg, snapshot)


def finish_features(
    plan: FeaturePlan, aggregates: pl.DataFrame, last_date: pl.DataFrame | None
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The feature table from the collected aggregates, and the snapshot it is computed at."""
    cfg = plan.features
    snapshot = plan.snapshot
    if snapshot is None:
        snapshot = default_snapshot(last_date[_LAST][0] if last_date is not None else None)
    if aggregates.is_empty():
        raise SegmentationError(
            f"no purchases before the snapshot date {snapshot.date()}, so there are no "
            "customers to describe. Set a later snapshot_date, or leave it null to use the day "
            "after the last transaction."
        )
    now = pl.lit(snapshot.to_pydatetime()).cast(pl.Datetime("us"))

    orders = pl.col(_ORDERS).cast(pl.Float64)
    spend = pl.col(_SPEND).cast(pl.Float64) / MONEY_SCALE
    out = {
        RECENCY: (now - pl.col(_LAST)).dt.total_microseconds() // _DAY_US,
        FREQUENCY: pl.col(_DAYS if cfg.frequency is FrequencyDef.days else _ORDERS),
        MONETARY: spend / orders if cfg.monetary is MonetaryDef.mean else spend,
    }
    if cfg.name is FeatureSet.lrfmc:
        start = pl.col(_FIRST)
        if _SIGNUP in aggregates.columns:
            start = pl.min_horizontal(start, pl.col(_SIGNUP))
        out[LENGTH] = (now - start).dt.total_microseconds() // _DAY_US
        out[DISCOUNT_RATE] = pl.col(_DISCOUNTED).cast(pl.Float64) / orders
    wanted = FEATURE_SETS[cfg.name.value]
    table = (
        aggregates.sort(CUSTOMER_ID)
        .select(pl.col(CUSTOMER_ID), *[out[c].cast(pl.Float64).alias(c) for c in wanted])
        .to_pandas()
    )
    table = table.set_index(CUSTOMER_ID)
    table.index = table.index.astype("str")
    return _finish(table, cfg.name.value), snapshot


def transaction_features(
    tx: pl.DataFrame | pl.LazyFrame,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per-customer features of a cleaned canonical log, as of ``snapshot_date``.

    ``snapshot_date`` None: ``default_snapshot(tx)``. LRFMC needs a ``discount`` column.
    """
    plan = plan_features(tx.lazy(), features, snapshot_date)
    aggregates, last_date = pl.collect_all([plan.aggregates, plan.last_date])
    return finish_features(plan, aggregates, last_date)[0]


def summary_features(
    customers: pd.DataFrame,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Features from the per-customer summary schema (see the module docstring).

    ``snapshot_date`` replaces every row's ``data_pulled_date``; it may not precede any
    ``last_order_date``, because summary totals cannot be cut back to an earlier date.
    """
    cfg = features_config(features)
    feature_set = cfg.name.value
    if cfg.frequency is not FrequencyDef.invoices:
        raise SegmentationError(
            f"features.frequency={cfg.frequency.value!r} needs a transaction log, but a "
            "customer summary only counts orders. Use features.frequency=invoices with summary "
            "data."
        )
    if cfg.name is FeatureSet.lrfmc:
        require(
            customers,
            (TRAN_WITH_DISC, CREATED_AT),
            "feature set lrfmc (customer summary)",
            "Map the column(s) under dataset.columns, or use features=rfm.",
        )
    has_orders = (customers[TOTAL_TRANSACTION] > 0) & customers[LAST_ORDER_DATE].notna()
    customers = customers[has_orders]
    if snapshot_date is None:
        today = customers[DATA_PULLED_DATE]
    else:
        snapshot = pd.Timestamp(snapshot_date)
        late = customers.index[customers[LAST_ORDER_DATE] >= snapshot]
        if len(late):
            raise SegmentationError(
                f"snapshot_date {snapshot.date()} is before the last order of {len(late)} "
                f"customer(s) (e.g. {', '.join(map(str, late[:3]))}). A summary table holds "
                "totals up to its data_pulled_date and cannot be scored at an earlier date; "
                "leave snapshot_date null or use a transaction log."
            )
        today = pd.Series(snapshot, index=customers.index)
    orders = customers[TOTAL_TRANSACTION]
    out = pd.DataFrame(index=customers.index)
    out[RECENCY] = (today - customers[LAST_ORDER_DATE]).dt.days
    out[FREQUENCY] = orders
    spend = customers[TOTAL_MONEY_SPENT]
    out[MONETARY] = spend / orders if cfg.monetary is MonetaryDef.mean else spend
    if cfg.name is FeatureSet.lrfmc:
        start = customers[CREATED_AT].fillna(customers[LAST_ORDER_DATE])
        out[LENGTH] = (today - start).dt.days
        out[DISCOUNT_RATE] = customers[TRAN_WITH_DISC].fillna(0) / orders
    return _finish(out, feature_set)


def build_features(
    dataset: Dataset,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The model input for any kind of dataset.

    ``snapshot_date`` None: for a log, ``default_snapshot`` of the (cleaned) log; for a summary,
    each row's own ``data_pulled_date``. Precomputed feature tables are used as they are.
    """
    cfg = features_config(features)
    if dataset.kind == "transactions":
        return transaction_features(dataset.transactions, cfg, snapshot_date)
    if dataset.kind == "summary":
        return summary_features(dataset.customers, cfg, snapshot_date)
    return select_features(dataset.customers, cfg.name.value, dataset.source)


def select_features(table: pd.DataFrame, feature_set: str, source: str = "") -> pd.DataFrame:
    """Validate and order a precomputed feature table for ``feature_set``."""
    wanted = list(FEATURE_SETS[feature_set])
    where = f" {source}" if source else ""
    require(
        table,
        wanted,
        f"features={feature_set} (the feature table{where})",
        "Map the missing feature(s) under dataset.columns, e.g. "
        "dataset.columns.recency_days=<column>, or choose a feature set the table covers "
        "(features=rfm).",
    )
    selected = table[wanted].astype("float64")
    holes = selected.isna().sum()
    holes = holes[holes > 0]
    if len(holes):
        counts = ", ".join(f"{c} ({n})" for c, n in holes.items())
        raise SegmentationError(
            f"the feature table{where} has missing values in {counts}. Models need a value "
            "for every customer and feature; fill or drop those rows upstream."
        )
    return selected


def _finish(out: pd.DataFrame, feature_set: str) -> pd.DataFrame:
    out = out[list(FEATURE_SETS[feature_set])].astype("float64")
    out.index.name = CUSTOMER_ID
    out.columns.name = None
    return out

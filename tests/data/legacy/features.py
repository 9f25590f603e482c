"""Per-customer RFM and LRFMC features: pure functions, no I/O.

Every function returns a float64 DataFrame indexed by ``customer_id`` whose columns are exactly
``FEATURE_SETS[feature_set]`` in that order. Definitions, for a snapshot date ``S`` (default:
the day after the last transaction; only transactions strictly before ``S`` are used, so a log
can be scored as it stood at an earlier date):

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

Returns (rows with ``is_return=True``, kept by ``cleaning.returns=net``) carry negative
amounts: they reduce monetary but are not orders, so they never count towards frequency,
recency, length or the discount share. Customers with no purchase before ``S`` get no row.

For the per-customer summary schema: F = ``total_transaction``, M = ``total_money_spent``
(``"mean"``: divided by ``total_transaction``), C = ``tran_with_disc / total_transaction``,
R from ``last_order_date`` and L from ``created_at``, both counted to the row's own
``data_pulled_date``. Customers with no order (``total_transaction`` of 0 or no
``last_order_date``) get no row.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np
import pandas as pd

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
    require,
)
from src.config.schema import FeaturesConfig, FeatureSet, FrequencyDef, MonetaryDef
from src.data.dataset import Dataset
from src.data.options import typed_options
from src.errors import SegmentationError

from . import ids
from .cleaning import purchase_mask


def default_snapshot(tx: pd.DataFrame) -> pd.Timestamp:
    """Midnight after the last transaction: a purchase on the last day has recency 0."""
    last = tx[INVOICE_DATE].max()
    if pd.isna(last):
        raise SegmentationError(
            "the transaction log has no dated rows, so there is no default snapshot date. "
            "Check the invoice_date mapping under dataset.columns, or set snapshot_date=YYYY-MM-DD."
        )
    return last.normalize() + pd.Timedelta(days=1)


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


def transaction_features(
    tx: pd.DataFrame,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per-customer features of a cleaned canonical log, as of ``snapshot_date``.

    ``snapshot_date`` None: ``default_snapshot(tx)``. LRFMC needs a ``discount`` column.
    """
    cfg = features_config(features)
    feature_set = cfg.name.value
    if cfg.name is FeatureSet.lrfmc:
        require(
            tx,
            (DISCOUNT,),
            "feature set lrfmc (discount information of the transaction log)",
            "Map the column holding each line's discount amount with "
            "dataset.columns.discount=<column>, or use features=rfm.",
        )
    snapshot = default_snapshot(tx) if snapshot_date is None else pd.Timestamp(snapshot_date)
    before = (tx[INVOICE_DATE] < snapshot).to_numpy()
    if not before.all():
        tx = tx[before]
    groups = _CustomerGroups(tx)
    if not groups.n_customers:
        raise SegmentationError(
            f"no purchases before the snapshot date {snapshot.date()}, so there are no "
            "customers to describe. Set a later snapshot_date, or leave it null to use the day "
            "after the last transaction."
        )
    stamps = groups.purchase_times(INVOICE_DATE)
    unit = stamps.unit
    now = pd.DatetimeIndex([snapshot]).as_unit(unit).asi8[0]
    day = np.timedelta64(1, "D") // np.timedelta64(1, unit)
    orders = groups.distinct_orders()

    out = pd.DataFrame(index=groups.ids)
    out[RECENCY] = (now - groups.max(stamps.asi8)) // day
    if cfg.frequency is FrequencyDef.days:
        out[FREQUENCY] = groups.distinct_days(stamps.normalize().asi8 // day)
    else:
        out[FREQUENCY] = orders
    spend = groups.total(AMOUNT)
    out[MONETARY] = spend / orders if cfg.monetary is MonetaryDef.mean else spend
    if cfg.name is FeatureSet.lrfmc:
        start = groups.min(stamps.asi8)
        if SIGNUP_DATE in tx.columns:
            signup = groups.purchase_times(SIGNUP_DATE).as_unit(unit)
            start = np.minimum(start, groups.min(signup.asi8, valid=~signup.isna()))
        out[LENGTH] = (now - start) // day
        out[DISCOUNT_RATE] = groups.discounted_order_share(DISCOUNT)
    return _finish(out, feature_set)


class _CustomerGroups:
    """Per-customer reductions of a log on integer codes (``bincount``, ``ufunc.at``).

    A ``groupby`` on the id column with ``nunique`` of invoices takes about 3x longer on the
    397,884 cleaned UCI lines (see ``benchmarks/README.md``). Purchases are the lines with a
    customer that are not returns; customers are the distinct ids with at least one purchase,
    in label order. Returns only enter ``total``.
    """

    def __init__(self, tx: pd.DataFrame) -> None:
        self.tx = tx
        codes, labels = ids.codes(tx[CUSTOMER_ID])
        buy = codes >= 0
        self.returns = None
        returns = ~purchase_mask(tx)
        if returns.any():
            self.returns = returns & buy
            buy &= ~returns
        self.buy = None if buy.all() else buy
        # Number the customers with a purchase 0..n-1 in label order.
        bought = self._purchases(codes)
        kept = np.zeros(len(labels) + 1, dtype=bool)
        kept[bought] = True
        kept = kept[:-1]
        present = labels[kept]
        rank = np.arange(len(present))
        if not present.is_monotonic_increasing:  # e.g. a categorical in its own order
            order = present.argsort(kind="stable")
            present = present[order]
            rank[order] = rank.copy()
        self.lookup = np.full(len(labels) + 1, -1, dtype=np.int64)
        self.lookup[np.flatnonzero(kept)] = rank
        self.codes = self.lookup[bought]
        self.n_customers = len(present)
        self.ids = pd.Index(present, name=CUSTOMER_ID)
        self._all_codes = codes

    def _purchases(self, values: np.ndarray) -> np.ndarray:
        return values if self.buy is None else values[self.buy]

    def purchase_times(self, column: str) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self._purchases(self.tx[column].array))

    def _floats(self, column: str) -> np.ndarray:
        values = self.tx[column].to_numpy(dtype="float64", na_value=np.nan)
        return np.nan_to_num(values) if np.isnan(values).any() else values

    @cached_property
    def orders(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(order number of each purchase line with an invoice id, customer of each order,
        which purchase lines have an invoice id, or None when all do).

        An order is one customer's lines of one invoice. When no invoice is shared by two
        customers (the usual case) the invoice codes are the order numbers already;
        otherwise the (customer, invoice) pairs are numbered.
        """
        invoices, labels = ids.codes(self.tx[INVOICE_ID])
        invoices = self._purchases(invoices)
        valid = invoices >= 0
        codes = self.codes
        if valid.all():
            valid = None
        else:
            invoices, codes = invoices[valid], codes[valid]
        owner = np.full(len(labels) + 1, -1, dtype=np.int64)
        owner[invoices] = codes
        if (owner[invoices] == codes).all():
            return invoices, owner[:-1], valid
        span = len(labels)
        order, pairs = pd.factorize(codes * span + invoices)
        return order, pairs // span, valid

    def distinct_orders(self) -> np.ndarray:
        owner = self.orders[1]
        return np.bincount(owner[owner >= 0], minlength=self.n_customers)

    def distinct_days(self, days: np.ndarray) -> np.ndarray:
        days = days - days.min()
        span = int(days.max()) + 1
        pairs = pd.unique(self.codes * span + days)
        return np.bincount(pairs // span, minlength=self.n_customers)

    def max(self, values: np.ndarray) -> np.ndarray:
        out = np.full(self.n_customers, np.iinfo(np.int64).min)
        np.maximum.at(out, self.codes, values)
        return out

    def min(self, values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        codes = self.codes if valid is None else self.codes[valid]
        values = values if valid is None else values[valid]
        out = np.full(self.n_customers, np.iinfo(np.int64).max)
        np.minimum.at(out, codes, values)
        return out

    def total(self, column: str) -> np.ndarray:
        """Sum of ``column`` over purchases, net of returns; missing values count as 0."""
        values = self._floats(column)
        out = np.bincount(self.codes, self._purchases(values), minlength=self.n_customers)
        if self.returns is not None:
            codes = self.lookup[self._all_codes[self.returns]]
            kept = codes >= 0
            out += np.bincount(codes[kept], values[self.returns][kept], self.n_customers)
        return out

    def discounted_order_share(self, column: str) -> np.ndarray:
        """Share of each customer's orders whose summed ``column`` is above zero."""
        order, owner, with_invoice = self.orders
        discount = self._purchases(self._floats(column))
        if with_invoice is not None:
            discount = discount[with_invoice]
        per_order = np.bincount(order, discount, minlength=len(owner))
        placed = owner >= 0
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(
                owner[placed], per_order[placed] > 0, self.n_customers
            ) / np.bincount(owner[placed], minlength=self.n_customers)


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

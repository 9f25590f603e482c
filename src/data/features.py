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

from collections.abc import Mapping, Sequence
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
    IS_RETURN,
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
from src.data.cleaning import ROWS, purchase_mask
from src.data.convert import parse_date_option
from src.data.dataset import Dataset
from src.data.options import typed_options
from src.errors import SegmentationError

# Money is summed in integer millionths of the currency unit (exact, order-independent).
MONEY_SCALE = 1_000_000
_DAY_US = 86_400_000_000
_LAST, _FIRST, _SIGNUP = "_last", "_first", "_signup"
_ORDERS, _DAYS, _SPEND, _DISCOUNTED = "_orders", "_days", "_spend", "_discounted"
LAST_KEPT, _BOUGHT = "_last_kept", "_bought"
AFTER, FUTURE = "_after_snapshot", "_future"  # kept lines not used: after the snapshot, today
# The columns of a cleaned log ``plan_features`` reads (those the log has).
FEATURE_INPUTS = frozenset(
    {CUSTOMER_ID, INVOICE_ID, INVOICE_DATE, AMOUNT, DISCOUNT, SIGNUP_DATE, IS_RETURN}
)
# The plausible end of a log (see ``choose_snapshot``): an isolated tail is at most this share of
# the customers, more than this many days after everyone else's last line.
TAIL_SHARE, TAIL_GAP_DAYS = 0.001, 30


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
    """A lazy query of per-customer aggregates, and what turns them into features.

    ``aggregates`` has one row per customer id of the log (the missing id too, as null), with
    the feature aggregates of its purchases before the snapshot (null when it has none), the
    last kept transaction time (``_last_kept``, for the default snapshot) and the sums of any
    ``counts`` columns it was asked to carry (e.g. the cleaning rules' flags). One query, one
    pass over the lines.
    """

    aggregates: pl.LazyFrame
    features: FeaturesConfig
    snapshot: pd.Timestamp | None  # explicit snapshot, or None for the default rule
    # One row: the sums of the ``totals`` columns over every line, and the lines (``ROWS``).
    totals: pl.LazyFrame | None = None


def plan_features(
    tx: pl.LazyFrame,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
    keep: pl.Expr | None = None,
    counts: Sequence[pl.Expr] = (),
    count_after: bool = False,
    totals: Sequence[pl.Expr] = (),
    in_memory: bool = False,
) -> FeaturePlan:
    """The per-customer aggregates behind the features, as one lazy query on a log.

    ``keep`` selects the lines that count (default: all, for a cleaned log; the cleaning
    rules' ``_keep`` flag for a raw log, so reading, cleaning and features are one pass);
    ``counts`` are per-line columns summed per customer alongside; ``count_after`` adds the
    kept lines dated on or after the snapshot (``AFTER``), and those after today (``FUTURE``).
    ``totals`` are per-line columns summed over the whole log instead (``FeaturePlan.totals``,
    a second query on the same lines for ``pl.collect_all``): a plain sum costs far less
    than one per customer, so counts only a total is asked of go there.

    Every aggregation is a plain one on a column masked to null where the line does not
    count: polars' fast group-by path (a filter inside an aggregation takes a per-group one).

    LRFMC's discount share needs each order's discount. On a log read from its source the
    orders are grouped first and the customers from them, one pass; ``in_memory`` (``tx`` is
    a log in memory, cheap to read twice): the customers are grouped from the lines and the
    orders apart, holding one sum per order instead of every aggregation (8M orders at 1M
    customers: 0.5 GB less at the peak, about a second more).
    """
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
    snapshot = parse_date_option(snapshot_date)
    date = pl.col(INVOICE_DATE)
    keep = pl.lit(True) if keep is None else keep
    before = date.is_not_null() if snapshot is None else date < snapshot.to_pydatetime()
    used = keep & before  # lines in monetary: purchases and returns
    buy = used & purchase_mask(present)  # purchases: everything else
    masked = [
        pl.when(buy).then(date).alias(_LAST),
        pl.when(buy).then(pl.col(INVOICE_ID)).alias(_ORDERS),
        pl.when(used).then(money(AMOUNT)).alias(_SPEND),
    ]
    aggs = [
        pl.col(_LAST).max(),
        (pl.col(_ORDERS).n_unique() - pl.col(_ORDERS).is_null().any().cast(pl.UInt32)),
        pl.col(_SPEND).sum(),
    ]
    if cfg.frequency is FrequencyDef.days:
        masked.append(pl.when(buy).then(date.dt.date()).alias(_DAYS))
        aggs.append(pl.col(_DAYS).n_unique() - pl.col(_DAYS).is_null().any().cast(pl.UInt32))
    if cfg.name is FeatureSet.lrfmc:
        masked.append(pl.when(buy).then(date).alias(_FIRST))
        aggs.append(pl.col(_FIRST).min())
        if SIGNUP_DATE in present:
            masked.append(pl.when(buy).then(pl.col(SIGNUP_DATE)).alias(_SIGNUP))
            aggs.append(pl.col(_SIGNUP).min())
        with_invoice = buy & pl.col(INVOICE_ID).is_not_null()
        masked.append(pl.when(with_invoice).then(money(DISCOUNT)).alias(_DISCOUNTED))
    if snapshot is None:  # the default snapshot follows the last kept line
        masked.append(pl.when(keep).then(date).alias(LAST_KEPT))
        aggs.append(pl.col(LAST_KEPT).max())
    counts = list(counts)
    if count_after and snapshot is not None:
        counts.append((keep & (date >= snapshot.to_pydatetime())).alias(AFTER))
        counts.append((keep & (date >= end_of_today().to_pydatetime())).alias(FUTURE))
    masked += counts
    count_names = [c.meta.output_name() for c in counts]
    aggs += [pl.col(c).sum() for c in count_names]
    if counts:
        aggs.append(pl.len().alias(ROWS))
    lines = tx.select(CUSTOMER_ID, INVOICE_ID, *masked)
    if cfg.name is FeatureSet.lrfmc and in_memory:
        per_order = (
            lines.filter(pl.col(_DISCOUNTED).is_not_null())
            .group_by(CUSTOMER_ID, INVOICE_ID)
            .agg(pl.col(_DISCOUNTED).sum())
            .group_by(CUSTOMER_ID)
            .agg((pl.col(_DISCOUNTED) > 0).sum())
        )
        per_customer = (
            lines.group_by(CUSTOMER_ID)
            .agg(aggs)
            .join(per_order, on=CUSTOMER_ID, how="left")
            .with_columns(pl.col(_DISCOUNTED).fill_null(0))
        )
    elif cfg.name is FeatureSet.lrfmc:
        # The discount share needs each order's discount: orders first, then customers.
        per_order = lines.group_by(CUSTOMER_ID, INVOICE_ID).agg(
            *[a for a in aggs if a.meta.output_name() not in (_ORDERS, _DAYS)],
            pl.col(_ORDERS).is_not_null().any().alias(_BOUGHT),
            pl.col(_DISCOUNTED).sum(),
            *([pl.col(_DAYS).unique().drop_nulls()] if cfg.frequency is FrequencyDef.days else []),
        )
        # Each row of per_order is a distinct (customer, invoice): a customer's distinct
        # invoices with a purchase are its rows with one.
        an_order = pl.col(_BOUGHT) & pl.col(INVOICE_ID).is_not_null()
        per_customer = per_order.group_by(CUSTOMER_ID).agg(
            *([pl.col(LAST_KEPT).max()] if snapshot is None else []),
            pl.col(_LAST).max(),
            an_order.sum().alias(_ORDERS),
            pl.col(_SPEND).sum(),
            pl.col(_FIRST).min(),
            *([pl.col(_SIGNUP).min()] if SIGNUP_DATE in present else []),
            (an_order & (pl.col(_DISCOUNTED) > 0)).sum().alias(_DISCOUNTED),
            *(
                [pl.col(_DAYS).explode().drop_nulls().n_unique()]
                if cfg.frequency is FrequencyDef.days
                else []
            ),
            *[pl.col(c).sum() for c in count_names],
            *([pl.col(ROWS).sum()] if counts else []),
        )
    else:
        per_customer = lines.group_by(CUSTOMER_ID).agg(aggs)
    summed = None
    if totals:
        summed = tx.select(*[t.sum() for t in totals], pl.len().alias(ROWS))
    return FeaturePlan(per_customer, cfg, snapshot, summed)


def last_kept(aggregates: pl.DataFrame) -> datetime | None:
    """The last kept transaction time of a log, from its collected aggregates."""
    return aggregates[LAST_KEPT].max()


def end_of_today() -> pd.Timestamp:
    """Midnight after today (the machine's clock): no real line is dated on or after it."""
    return pd.Timestamp.now().normalize() + pd.Timedelta(days=1)


@dataclass
class SnapshotChoice:
    """The default snapshot, and what it leaves out because it is implausibly late."""

    snapshot: pd.Timestamp
    last_line: datetime  # the last kept line of the log
    future_customers: int  # customers whose last line is after today
    tail_customers: int  # customers of an isolated tail (see choose_snapshot)

    @property
    def cuts(self) -> bool:
        """Whether lines lie on or after the snapshot (and must be counted and ignored)."""
        return self.future_customers + self.tail_customers > 0


def choose_snapshot(aggregates: pl.DataFrame) -> SnapshotChoice:
    """The default snapshot: midnight after the plausible end of the log.

    The plausible end is the last kept line, unless late lines stand out, judged on each
    customer's last line (lines without a customer count as one customer):

    - lines dated after today (the machine's clock) cannot be real: a mistyped year such as
      2099 must not become the snapshot, making every recency about 30,000 days;
    - an isolated tail: the latest customers' last lines, when they are at most
      ``TAIL_SHARE`` (0.1 %) of the customers and more than ``TAIL_GAP_DAYS`` (30) days after
      every other customer's last line (e.g. a handful of lines dated 2021 in a 2011 log).

    The snapshot is then midnight after the latest other customer's last line; the late
    lines are ignored by the features, counted in the cleaning report and warned about.
    """
    last = aggregates[LAST_KEPT].drop_nulls()
    if last.is_empty():
        raise SegmentationError(
            "the transaction log has no dated rows, so there is no default snapshot date. "
            "Check the invoice_date mapping under dataset.columns, or set snapshot_date=YYYY-MM-DD."
        )
    today = end_of_today().to_pydatetime()
    future = last.filter(last >= today)
    days = last.filter(last < today).dt.date().sort(descending=True)
    tail = 0
    if len(days) > 1:
        gaps = (days.head(-1) - days.tail(-1)).dt.total_days().to_numpy()
        allowed = int(TAIL_SHARE * len(last))
        for k in range(min(allowed, len(gaps))):  # tail = the k + 1 latest customers
            if gaps[k] > TAIL_GAP_DAYS:
                tail = k + 1
    plausible = last.filter(last < today).sort(descending=True)
    end = plausible[tail] if len(plausible) > tail else None
    if end is None:
        raise SegmentationError(
            f"every dated line of the log is after today ({pd.Timestamp(today).date()}), so "
            "there is no plausible default snapshot. Check the invoice_date column and "
            "dataset.date_format, or set snapshot_date=YYYY-MM-DD."
        )
    return SnapshotChoice(default_snapshot(end), last.max(), len(future), tail)


def snapshot_warnings(
    aggregates: pl.DataFrame, snapshot: pd.Timestamp, choice: SnapshotChoice | None
) -> list[str]:
    """What the features left out on account of the snapshot, for ``Prepared.warnings``."""
    after = int(aggregates[AFTER].sum()) if AFTER in aggregates.columns else 0
    future = int(aggregates[FUTURE].sum()) if FUTURE in aggregates.columns else 0
    if not after:
        return []
    if choice is None:
        return [
            f"{after:,} line(s) dated on or after snapshot_date {snapshot.date()} were ignored "
            "by the features (the log is scored as it stood at that date)."
        ]
    parts = []
    if future:
        parts.append(f"{future:,} dated after today")
    if after - future:
        parts.append(
            f"{after - future:,} in an isolated tail more than {TAIL_GAP_DAYS} days after "
            "every other customer's last purchase"
        )
    return [
        f"{after:,} line(s) dated after the plausible end of the log were ignored by the "
        f"features ({'; '.join(parts)}; the latest is {pd.Timestamp(choice.last_line)}), so "
        f"the default snapshot is {snapshot.date()}. Check the invoice dates of the log, or "
        "set snapshot_date explicitly."
    ]


def finish_features(
    plan: FeaturePlan, aggregates: pl.DataFrame
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The feature table from the collected aggregates, and the snapshot it is computed at."""
    cfg = plan.features
    snapshot = plan.snapshot
    if snapshot is None:
        snapshot = choose_snapshot(aggregates).snapshot
    buyers = aggregates.filter(pl.col(CUSTOMER_ID).is_not_null() & pl.col(_LAST).is_not_null())
    if buyers.is_empty():
        raise SegmentationError(
            f"no purchases before the snapshot date {snapshot.date()}, so there are no "
            "customers to describe. Set a later snapshot_date, or leave it null to use the day "
            "after the last transaction."
        )
    now = pl.lit(snapshot.to_pydatetime()).cast(pl.Datetime("us"))
    orders = pl.col(_ORDERS).cast(pl.Float64)
    spend = pl.col(_SPEND).fill_null(0).cast(pl.Float64) / MONEY_SCALE
    out = {
        RECENCY: (now - pl.col(_LAST)).dt.total_microseconds() // _DAY_US,
        FREQUENCY: pl.col(_DAYS if cfg.frequency is FrequencyDef.days else _ORDERS),
        MONETARY: spend / orders if cfg.monetary is MonetaryDef.mean else spend,
    }
    if cfg.name is FeatureSet.lrfmc:
        start = pl.col(_FIRST)
        if _SIGNUP in buyers.columns:
            start = pl.min_horizontal(start, pl.col(_SIGNUP))
        out[LENGTH] = (now - start).dt.total_microseconds() // _DAY_US
        out[DISCOUNT_RATE] = pl.col(_DISCOUNTED).cast(pl.Float64) / orders
    wanted = FEATURE_SETS[cfg.name.value]
    table = (
        buyers.sort(CUSTOMER_ID)
        .select(pl.col(CUSTOMER_ID), *[out[c].cast(pl.Float64).alias(c) for c in wanted])
        .to_pandas()
    )
    table = table.set_index(CUSTOMER_ID)
    table.index = table.index.astype("str")
    return _finish(table, cfg.name.value), snapshot


@dataclass
class SnapshotFeatures:
    """Features at the snapshot they were really computed at, and what that left out."""

    table: pd.DataFrame
    snapshot: pd.Timestamp
    aggregates: pl.DataFrame  # the per-customer aggregates (and counts) they came from
    ignored: int  # kept lines dated on or after the snapshot, not used
    warnings: list[str]
    note: str  # for the cleaning report's "after_snapshot" step


def features_at_snapshot(run, snapshot: str | pd.Timestamp | None) -> SnapshotFeatures:
    """Features by the snapshot rule, from ``run(snapshot, count_after) -> (plan, aggregates)``
    (a function that builds and collects ``plan_features`` for a snapshot).

    An explicit snapshot takes one run, with the lines after it counted. The default snapshot
    takes one run too, unless ``choose_snapshot`` finds implausibly late lines: then a second
    run at the plausible snapshot leaves them out and counts them.
    """
    snap = parse_date_option(snapshot)
    choice = None
    if snap is None:
        plan, aggregates = run(None, False)
        choice = choose_snapshot(aggregates)
        if not choice.cuts:
            table, snap = finish_features(plan, aggregates)
            return SnapshotFeatures(table, snap, aggregates, 0, [], "")
        snap = choice.snapshot
    plan, aggregates = run(snap, True)
    table, snap = finish_features(plan, aggregates)
    warnings = snapshot_warnings(aggregates, snap, choice)
    ignored = int(aggregates[AFTER].sum())
    why = "after the plausible end of the log" if choice else "on or after snapshot_date"
    note = f"dated {why} ({snap.date()}): not used by the features" if ignored else ""
    return SnapshotFeatures(table, snap, aggregates, ignored, warnings, note)


def transaction_features(
    tx: pl.DataFrame | pl.LazyFrame,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per-customer features of a cleaned canonical log, as of ``snapshot_date``.

    ``snapshot_date`` None: the default rule (``choose_snapshot``). LRFMC needs a ``discount``
    column.
    """
    return log_features(tx, features, snapshot_date).table


def log_features(
    tx: pl.DataFrame | pl.LazyFrame,
    features: FeaturesConfig | Mapping | str,
    snapshot_date: str | pd.Timestamp | None = None,
) -> SnapshotFeatures:
    """``transaction_features`` with the snapshot it used and what that left out."""
    cfg = features_config(features)
    in_memory = isinstance(tx, pl.DataFrame)

    def run(snapshot, count_after):
        plan = plan_features(tx.lazy(), cfg, snapshot, count_after=count_after, in_memory=in_memory)
        return plan, plan.aggregates.collect()

    return features_at_snapshot(run, snapshot_date)


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
    late = customers.index[customers[LAST_ORDER_DATE] > customers[DATA_PULLED_DATE]]
    if len(late):
        first = late[0]
        raise SegmentationError(
            f"{len(late):,} customer(s) of the summary have a last order after the date the "
            f"data was pulled (e.g. {first}: last_order_date "
            f"{customers.loc[first, LAST_ORDER_DATE]} > data_pulled_date "
            f"{customers.loc[first, DATA_PULLED_DATE]}), which would give a negative recency. "
            "Check the two date columns (swapped, or pulled before the last orders arrived)."
        )
    if snapshot_date is None:
        today = customers[DATA_PULLED_DATE]
    else:
        snapshot = parse_date_option(snapshot_date)
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


def feature_warnings(table: pd.DataFrame, kind: str) -> list[str]:
    """Visible warnings about a feature table that is usable but suspect."""
    if MONETARY not in table.columns:
        return []
    negative = table.index[table[MONETARY] < 0]
    if not len(negative):
        return []
    why = (
        "their returns exceed their purchases (cleaning.returns=net)"
        if kind == "transactions"
        else "the table says so"
    )
    return [
        f"{len(negative):,} customer(s) have a negative monetary value (e.g. "
        f"{', '.join(map(str, negative[:3]))}): {why}. Their segments rest on it; check the "
        "data if that is unexpected."
    ]


def _refuse_impossible(table: pd.DataFrame, where: str) -> None:
    """Feature values no real customer can have: refused with the column and examples."""
    impossible = {
        RECENCY: table.get(RECENCY, pd.Series(dtype=float)) < 0,
        LENGTH: table.get(LENGTH, pd.Series(dtype=float)) < 0,
        FREQUENCY: table.get(FREQUENCY, pd.Series(dtype=float)) < 0,
        DISCOUNT_RATE: ~table.get(DISCOUNT_RATE, pd.Series(dtype=float)).between(0, 1),
    }
    for column, bad in impossible.items():
        if column in table.columns and bad.any():
            rows = table.index[bad.to_numpy()]
            raise SegmentationError(
                f"{where} has {len(rows):,} customer(s) with an impossible {column} (e.g. "
                f"{', '.join(f'{i}: {table.loc[i, column]:g}' for i in rows[:3])}): recency, "
                "length and frequency cannot be negative and discount_rate is a share between "
                "0 and 1. Fix the table upstream (a sign or unit error?)."
            )
    if MONETARY in table.columns and len(table) and (table[MONETARY] <= 0).all():
        raise SegmentationError(
            f"{where}: every customer's monetary value is zero or negative (e.g. "
            f"{table[MONETARY].iloc[0]:g}), so there is no spend to segment on; the sign is "
            "probably flipped (refunds exported as spend?). Fix the column upstream or map "
            "dataset.columns.monetary to the spend column."
        )


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
    _refuse_impossible(selected, f"the feature table{where}")
    return selected


def _finish(out: pd.DataFrame, feature_set: str) -> pd.DataFrame:
    out = out[list(FEATURE_SETS[feature_set])].astype("float64")
    out.index.name = CUSTOMER_ID
    out.columns.name = None
    return out

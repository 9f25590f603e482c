"""Seeded synthetic e-commerce transaction log with planted customer segments.

The embedded default dataset: it needs no download, has known ground truth (so a sweep can be
scored by how well it recovers the planted segments) and carries the kinds of dirt a real
online-retail export has (guest orders, cancellations, returns, free lines, duplicates, postage
and fee lines), so the cleaning step is exercised on every run.

Generation is vectorised over customers, orders and lines; Python only loops over segments.
Every random draw is made as numbers first (``_draw_log``); the text columns are then gathered
from text built once per customer, order and product, for all lines (``generate_transactions``)
or one Parquet row group at a time (``write_log``, whose memory is that of one chunk's draws).
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import polars as pl

from src.columns import (
    AMOUNT,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    DISCOUNT,
    INVOICE_DATE,
    INVOICE_ID,
    QUANTITY,
    SIGNUP_DATE,
    STOCK_CODE,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
)
from src.config.schema import DatasetConfig
from src.data.features import default_snapshot
from src.data.synthetic.profiles import (
    CANCEL_LINE_SHARE,
    CATALOGUE_SEED,
    CATEGORY_ITEMS,
    CATEGORY_NAMES,
    CHRISTMAS_IN_SEASON,
    CHRISTMAS_MONTHS,
    CHRISTMAS_OFF_SEASON,
    COUNTRIES,
    DEFAULT_SEGMENT_SHARES,
    DUPLICATE_ROW_SHARE,
    FEE_MIX_ABROAD,
    FEE_MIX_HOME,
    FEE_ORDER_SHARE,
    FREE_LINE_SHARE,
    GUEST_ORDER_SHARE,
    HOUR_WEIGHT,
    MONTH_WEIGHT,
    NON_PRODUCT_CODES,
    PRODUCTS_PER_CATEGORY,
    PROFILES,
    RETURN_LINE_SHARE,
    SEGMENTS,
    STYLES,
    WEEKDAY_WEIGHT,
    ZIPF_EXPONENT,
    ZIPF_OFFSET,
)
from src.errors import SegmentationError

# Purchase-level order kinds; cancellations and returns sort after a purchase at the same minute.
# The synthetic dataset's options and their defaults are DatasetConfig's.
_DEFAULTS = DatasetConfig()

_PURCHASE, _CANCELLATION, _RETURN = 0, 1, 2
_FIRST_INVOICE = 500_001
_OPEN_MINUTE, _CLOSE_MINUTE = 7 * 60, 20 * 60


@dataclass
class SyntheticData:
    """A generated log, its planted segments (ground truth only) and its snapshot date."""

    transactions: pl.DataFrame
    labels: pd.Series
    snapshot_date: pd.Timestamp


@dataclass(frozen=True)
class _Catalogue:
    stock_code: list[str]  # products first, then NON_PRODUCT_CODES
    description: list[str]
    category: np.ndarray  # category index per product
    price: np.ndarray  # base unit price per product
    popularity: np.ndarray  # Zipf weight per product

    @property
    def n_products(self) -> int:
        return len(self.category)


@functools.cache
def _catalogue() -> _Catalogue:
    """Fixed across seeds, like a shop's catalogue; popularity is Zipf over a shuffled ranking."""
    rng = np.random.default_rng(CATALOGUE_SEED)
    names, categories, prices = [], [], []
    for c, (median_price, nouns) in enumerate(CATEGORY_ITEMS.values()):
        pairs = [(style, noun) for noun in nouns for style in STYLES]
        chosen = rng.choice(len(pairs), size=PRODUCTS_PER_CATEGORY, replace=False)
        names += [f"{pairs[i][0]} {pairs[i][1]}" for i in chosen]
        categories += [c] * PRODUCTS_PER_CATEGORY
        raw = median_price * rng.lognormal(0.0, 0.55, PRODUCTS_PER_CATEGORY)
        prices += list(np.maximum(np.round(raw / 0.05) * 0.05, 0.1).round(2))
    n = len(names)
    numbers = rng.choice(np.arange(10_000, 100_000), size=n, replace=False)
    suffix = np.where(rng.random(n) < 0.2, rng.choice(list("ABCDEF"), size=n), "")
    codes = [f"{num}{suf}" for num, suf in zip(numbers, suffix, strict=True)]
    ranks = rng.permutation(n) + 1
    return _Catalogue(
        stock_code=codes + list(NON_PRODUCT_CODES),
        description=names + list(NON_PRODUCT_CODES.values()),
        category=np.array(categories, dtype=np.int8),
        price=np.array(prices),
        popularity=1.0 / (ranks + ZIPF_OFFSET) ** ZIPF_EXPONENT,
    )


def _resolve_shares(segment_shares: Mapping[str, float] | None) -> np.ndarray:
    """Shares as relative weights in SEGMENTS order; segments left out get none."""
    if segment_shares is None:
        segment_shares = DEFAULT_SEGMENT_SHARES
    unknown = sorted(set(segment_shares) - set(SEGMENTS))
    if unknown:
        raise SegmentationError(
            f"segment_shares names unknown segments {unknown}; the synthetic generator plants "
            f"{list(SEGMENTS)}. Use those names as keys (segments left out get no customers)."
        )
    shares = np.array([float(segment_shares.get(s, 0.0)) for s in SEGMENTS])
    if not np.all(np.isfinite(shares)) or np.any(shares < 0) or shares.sum() <= 0:
        raise SegmentationError(
            f"segment_shares must be non-negative numbers with a positive total, got "
            f"{dict(segment_shares)}. Give each segment a relative weight, e.g. "
            f"{DEFAULT_SEGMENT_SHARES}; weights are normalised to sum to 1."
        )
    return shares / shares.sum()


def _resolve_window(start: str, end: str) -> tuple[pd.Timestamp, int]:
    try:
        first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise SegmentationError(
            f"synthetic data window start={start!r} end={end!r} is not a pair of dates ({exc}). "
            "Give ISO dates such as start='2023-01-01' end='2024-12-31'."
        ) from exc
    n_days = (last - first).days + 1
    if n_days < 60:
        raise SegmentationError(
            f"synthetic data window {first.date()}..{last.date()} spans {n_days} days; the "
            "planted segments need at least 60 days (two years is the default). Move end later "
            "or start earlier."
        )
    return first, n_days


def _day_weights(first_day: pd.Timestamp, n_days: int) -> np.ndarray:
    days = pd.date_range(first_day, periods=n_days, freq="D")
    weight = MONTH_WEIGHT[days.month - 1] * WEEKDAY_WEIGHT[days.day_of_week]
    late_december = (days.month == 12) & (days.day >= 20)
    weight = np.where(late_december, weight * 0.35, weight)
    closed = (days.month == 12) & np.isin(days.day, (25, 26)) | (days.month == 1) & (days.day == 1)
    return np.where(closed, 0.0, weight)


def _sample_days(
    cum: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Demand-weighted day in [lo, hi] (inclusive) by inverting the cumulative day weights."""
    before = np.concatenate(([0.0], cum))
    u = before[lo] + rng.random(len(lo)) * (before[hi + 1] - before[lo])
    return np.minimum(_count_at_most(cum, u), hi)


def _count_at_most(edges: np.ndarray, values: np.ndarray, per_edge: int = 16) -> np.ndarray:
    """``np.searchsorted(edges, values, side="right")`` for sorted edges from 0 to a positive
    last edge, and values in that range.

    A guide table (the first candidate index per bucket of equal width, ``per_edge`` buckets
    per edge) starts each value next to its answer, and a few vectorised steps finish it: the
    same indices as numpy's binary search, at a fraction of its cost for millions of values
    over a few thousand edges (numpy offers no guided search; this is the inverse-CDF draw of
    every line).
    """
    n_buckets = per_edge * len(edges)
    scale = n_buckets / edges[-1]
    first = np.searchsorted(edges, np.arange(n_buckets + 1) / scale, side="right")
    # Bucket b starts at the first index of bucket b - 1, so rounding in the bucket number
    # never starts a value past its answer.
    first = np.concatenate(([0], first[:-1]))
    bucket = (values * scale).astype(np.int64)
    np.minimum(bucket, n_buckets, out=bucket)
    found = first[bucket]
    padded = np.append(edges, np.inf)
    ahead = np.flatnonzero(padded[found] <= values)
    while len(ahead):
        found[ahead] += 1
        ahead = ahead[padded[found[ahead]] <= values[ahead]]
    return found


def _snap_days(cum: np.ndarray, weight: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Move days the shop is shut to the next open day."""
    before = np.concatenate(([0.0], cum))
    u = before[day] + 0.5 * weight[day]
    return np.minimum(_count_at_most(cum, u), len(cum) - 1)


def _minutes_of_day(n: int, rng: np.random.Generator) -> np.ndarray:
    p = HOUR_WEIGHT / HOUR_WEIGHT.sum()
    hours = rng.choice(len(p), size=n, p=p) + _OPEN_MINUTE // 60
    return hours * 60 + rng.integers(0, 60, size=n)


def _stable_order(key: np.ndarray) -> np.ndarray:
    """argsort(kind="stable") for non-negative integer keys, via a plain sort of unique keys.

    Much faster than a stable argsort on shuffled data, which matters at millions of rows.
    """
    n = len(key)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if int(key.max()) < np.iinfo(np.int64).max // max(n, 1):
        return np.sort(key.astype(np.int64) * n + np.arange(n)) % n
    return np.argsort(key, kind="stable")


def _segment_counts(n: int, shares: np.ndarray) -> np.ndarray:
    """Exact counts by largest remainder, so shares hold even for small n."""
    raw = shares * n
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def _lognormal(
    spec: tuple[float, float, float, float], size: int, rng: np.random.Generator
) -> np.ndarray:
    median, sigma, low, high = spec
    return np.clip(median * rng.lognormal(0.0, sigma, size), low, high)


def _country_choice(n: int, rng: np.random.Generator) -> np.ndarray:
    p = np.array([share for _, share in COUNTRIES])
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int8)


class _Columns:
    """Parallel arrays of one table, gathered and stacked together."""

    def take(self, idx: np.ndarray) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    @classmethod
    def take_stacked(cls, parts: list[Self], idx: np.ndarray) -> Self:
        """``concat(parts).take(idx)`` without stacking the parts first."""
        ends = np.cumsum([len(p) for p in parts])
        part = np.searchsorted(ends, idx, side="right")
        columns = {}
        for f in fields(cls):
            arrays = [getattr(p, f.name) for p in parts]
            column = np.empty(len(idx), dtype=np.result_type(*arrays))
            for k, array in enumerate(arrays):
                here = part == k
                column[here] = array[idx[here] - (ends[k] - len(array))]
            columns[f.name] = column
        return cls(**columns)

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))


@dataclass
class _Customers(_Columns):
    segment: np.ndarray  # index into SEGMENTS
    signup_age: np.ndarray  # days before the snapshot
    last_age: np.ndarray
    first_age: np.ndarray
    n_orders: np.ndarray
    p_discount: np.ndarray
    lines: np.ndarray  # mean lines per order
    quantity: np.ndarray  # mean quantity per line
    country: np.ndarray  # index into COUNTRIES


@dataclass
class _Orders(_Columns):
    customer: np.ndarray  # index into customers, -1 for guest orders
    time: np.ndarray  # minutes since the window start
    rate: np.ndarray  # discount rate of the order, 0 when none
    kind: np.ndarray  # _PURCHASE, _CANCELLATION or _RETURN
    country: np.ndarray
    interior: np.ndarray  # neither the customer's first nor last order


@dataclass
class _Lines(_Columns):
    order: np.ndarray  # index into the orders table
    product: np.ndarray  # index into the catalogue (non-product codes after the products)
    quantity: np.ndarray
    price: np.ndarray


def _draw_customers(
    n: int, shares: np.ndarray, n_days: int, rng: np.random.Generator
) -> _Customers:
    segment = np.repeat(np.arange(len(SEGMENTS), dtype=np.int8), _segment_counts(n, shares))
    segment = rng.permutation(segment)
    ints = ("signup_age", "last_age", "first_age", "n_orders")
    floats = ("p_discount", "lines", "quantity")
    out = {k: np.zeros(n, dtype=np.int64) for k in ints} | {k: np.zeros(n) for k in floats}
    for s, name in enumerate(SEGMENTS):
        idx = np.flatnonzero(segment == s)
        m = len(idx)
        if m == 0:
            continue
        prof = PROFILES[name]
        signup = np.rint(_lognormal(prof.tenure, m, rng)).astype(np.int64)
        horizon = np.minimum(signup, n_days)
        last = np.clip(np.rint(_lognormal(prof.recency, m, rng)).astype(np.int64), 1, horizon)
        spread = rng.beta(*prof.first_order, m)
        first = last + np.floor((horizon - last) * spread).astype(np.int64)
        low, extra, dispersion, high = prof.orders
        extra_orders = rng.negative_binomial(dispersion, dispersion / (dispersion + extra), m)
        n_orders = np.minimum(low + extra_orders, high)
        out["signup_age"][idx] = signup
        out["last_age"][idx] = last
        out["first_age"][idx] = np.where(n_orders == 1, last, first)
        out["n_orders"][idx] = n_orders
        out["p_discount"][idx] = rng.beta(*prof.discount, m)
        out["lines"][idx] = prof.lines
        out["quantity"][idx] = np.maximum(prof.quantity * rng.lognormal(0.0, 0.35, m), 1.0)
    return _Customers(segment=segment, country=_country_choice(n, rng), **out)


def _discount_rates(discounted: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rates = rng.choice(np.array([0.1, 0.15, 0.2, 0.25]), size=len(discounted))
    return np.where(discounted, rates, 0.0)


def _draw_customer_orders(
    cust: _Customers, cum: np.ndarray, weight: np.ndarray, rng: np.random.Generator
) -> _Orders:
    """First order at the planted first-order age, last at the recency, the rest in between."""
    n_days = len(cum)
    owner = np.repeat(np.arange(len(cust)), cust.n_orders)
    k = np.arange(len(owner)) - (np.cumsum(cust.n_orders) - cust.n_orders)[owner]
    first_day = _snap_days(cum, weight, n_days - cust.first_age)[owner]
    last_day = _snap_days(cum, weight, n_days - cust.last_age)[owner]
    first_day = np.minimum(first_day, last_day)
    day = _sample_days(cum, first_day, last_day, rng)
    is_first, is_last = k == 0, k == cust.n_orders[owner] - 1
    day = np.where(is_first, first_day, np.where(is_last, last_day, day))
    return _Orders(
        customer=owner,
        time=day * 1440 + _minutes_of_day(len(owner), rng),
        rate=_discount_rates(rng.random(len(owner)) < cust.p_discount[owner], rng),
        kind=np.full(len(owner), _PURCHASE, dtype=np.int8),
        country=cust.country[owner],
        interior=~(is_first | is_last),
    )


def _draw_guest_orders(n: int, cum: np.ndarray, rng: np.random.Generator) -> _Orders:
    day = _sample_days(cum, np.zeros(n, dtype=np.int64), np.full(n, len(cum) - 1), rng)
    return _Orders(
        customer=np.full(n, -1),
        time=day * 1440 + _minutes_of_day(n, rng),
        rate=_discount_rates(rng.random(n) < 0.1, rng),
        kind=np.full(n, _PURCHASE, dtype=np.int8),
        country=_country_choice(n, rng),
        interior=np.zeros(n, dtype=bool),
    )


def _product_probabilities(cat: _Catalogue) -> np.ndarray:
    """Product choice per (segment or guest, Christmas season) group: Zipf x category taste."""
    christmas = cat.category == CATEGORY_NAMES.index("christmas")
    tastes = [np.array(PROFILES[s].categories) for s in SEGMENTS]
    tastes.append(np.ones(len(CATEGORY_NAMES)))  # guests
    rows = []
    for taste in tastes:
        for boost in (CHRISTMAS_OFF_SEASON, CHRISTMAS_IN_SEASON):
            p = cat.popularity * taste[cat.category] * np.where(christmas, boost, 1.0)
            rows.append(p / p.sum())
    return np.array(rows)


def _repeated_in_order(key: np.ndarray, order: np.ndarray, n_lines: np.ndarray) -> np.ndarray:
    """Lines whose key an earlier line of the same order already has (lines grouped by order).

    Equal keys only occur inside one order, so each line is compared with the lines before it
    in its order, one lag at a time: a handful of passes over a shrinking set, where a sort of
    all keys would cost far more at millions of lines.
    """
    position = np.arange(len(key)) - (np.cumsum(n_lines) - n_lines)[order]
    repeated = np.zeros(len(key), dtype=bool)
    lag, idx = 1, np.flatnonzero(position >= 1)
    while len(idx):
        repeated[idx] |= key[idx] == key[idx - lag]
        lag += 1
        idx = idx[position[idx] >= lag]
    return repeated


def _product_lines(
    orders: _Orders,
    cust: _Customers,
    month_of_day: np.ndarray,
    cat: _Catalogue,
    rng: np.random.Generator,
) -> _Lines:
    """Product lines of purchase orders, each product at most once per order."""
    guest = orders.customer < 0
    owner = np.where(guest, 0, orders.customer)
    mean_lines = np.where(guest, 2.0, cust.lines[owner])
    mean_qty = np.where(guest, 3.0, cust.quantity[owner])
    n_lines = 1 + rng.negative_binomial(2.0, 2.0 / (2.0 + (mean_lines - 1.0)))
    order = np.repeat(np.arange(len(orders)), n_lines)

    # Inverse-CDF draw for all groups at once: group g's CDF is shifted into (g, g + 1].
    in_season = np.isin(month_of_day[orders.time // 1440], CHRISTMAS_MONTHS)
    segment = np.where(guest, len(SEGMENTS), cust.segment[owner]).astype(np.int64)
    group = (segment * 2 + in_season)[order]
    cdf = np.cumsum(_product_probabilities(cat), axis=1)
    cdf[:, -1] = 1.0
    shifted = (cdf + np.arange(len(cdf))[:, None]).ravel()
    product = _count_at_most(shifted, group + rng.random(len(order)))
    product = np.clip(product - group * cat.n_products, 0, cat.n_products - 1)

    keep = ~_repeated_in_order(order * cat.n_products + product, order, n_lines)
    order, product = order[keep], product[keep]

    qty = rng.geometric(1.0 / mean_qty[order]).astype(np.float64)
    bulk = rng.random(len(order)) < 0.02
    qty = np.where(bulk, qty * rng.choice(np.array([6.0, 12.0, 24.0]), size=len(order)), qty)
    price = cat.price[product]
    wholesale = qty >= 24
    price[wholesale] = np.round(price[wholesale] * 0.85, 2)
    return _Lines(order=order, product=product.astype(np.int32), quantity=qty, price=price)


def _reversals(
    orders: _Orders,
    lines: _Lines,
    share: float,
    kind: int,
    last_minute: int,
    rng: np.random.Generator,
) -> tuple[_Orders, _Lines]:
    """Cancellations or returns of lines from customers' interior orders, one invoice per order.

    Only interior orders are touched, so a cleaner that also drops the reversed purchases leaves
    every customer's first and last order (hence recency and tenure) as planted. The returned
    lines index the returned orders.
    """
    eligible = np.flatnonzero(orders.interior[lines.order])
    p = min(1.0, share * len(lines) / max(len(eligible), 1))
    picked = eligible[rng.random(len(eligible)) < p]
    source, new_order = np.unique(lines.order[picked], return_inverse=True)
    n_new = len(source)
    max_days = 2 if kind == _CANCELLATION else 30
    min_days = 0 if kind == _CANCELLATION else 2
    day = orders.time[source] // 1440 + rng.integers(min_days, max_days + 1, size=n_new)
    minute = _minutes_of_day(n_new, rng)
    same_day = day == orders.time[source] // 1440
    later = np.minimum(np.maximum(minute, orders.time[source] % 1440 + 5), _CLOSE_MINUTE - 1)
    minute = np.where(same_day, later, minute)
    reversal_orders = _Orders(
        customer=orders.customer[source],
        time=np.minimum(day * 1440 + minute, last_minute),
        rate=np.zeros(n_new),
        kind=np.full(n_new, kind, dtype=np.int8),
        country=orders.country[source],
        interior=np.zeros(n_new, dtype=bool),
    )
    qty = lines.quantity[picked]
    if kind == _RETURN:
        qty = np.floor(rng.random(len(qty)) * qty) + 1
    reversal_lines = _Lines(
        order=new_order.astype(np.int64),
        product=lines.product[picked],
        quantity=-qty,
        price=lines.price[picked],
    )
    return reversal_orders, reversal_lines


def _free_and_fee_lines(
    orders: _Orders, lines: _Lines, cat: _Catalogue, rng: np.random.Generator
) -> _Lines:
    """Zero-price product lines and postage/fee lines added to existing purchases."""
    n_free = round(FREE_LINE_SHARE * len(lines))
    free = _Lines(
        order=rng.integers(0, len(orders), size=n_free),
        product=rng.choice(
            cat.n_products, size=n_free, p=cat.popularity / cat.popularity.sum()
        ).astype(np.int32),
        quantity=rng.integers(1, 13, size=n_free).astype(np.float64),
        price=np.zeros(n_free),
    )
    n_fee = round(FEE_ORDER_SHARE * len(orders))
    fee_order = rng.choice(len(orders), size=n_fee, replace=False)
    codes = list(NON_PRODUCT_CODES)
    abroad = orders.country[fee_order] != 0
    code = np.where(
        abroad,
        rng.choice(len(codes), size=n_fee, p=FEE_MIX_ABROAD),
        rng.choice(len(codes), size=n_fee, p=FEE_MIX_HOME),
    )
    fee_price = {
        "POST": np.where(rng.random(n_fee) < 0.7, 18.0, 40.0),
        "DOT": np.round(60.0 * rng.lognormal(0.0, 0.8, n_fee), 2),
        "C2": np.full(n_fee, 50.0),
        "M": np.round(np.maximum(3.0 * rng.lognormal(0.0, 1.2, n_fee), 0.01), 2),
        "BANK CHARGES": np.full(n_fee, 15.0),
        "AMAZONFEE": np.round(400.0 * rng.lognormal(0.0, 1.0, n_fee), 2),
    }
    price = np.choose(code, [fee_price[c] for c in codes])
    postage = code == codes.index("POST")
    qty = np.where(postage & (rng.random(n_fee) < 0.2), 2.0, 1.0)
    fees = _Lines(
        order=fee_order, product=(cat.n_products + code).astype(np.int32), quantity=qty, price=price
    )
    return _Lines.concat([free, fees])


def _add_dirt(
    orders: _Orders, lines: _Lines, cat: _Catalogue, n_days: int, rng: np.random.Generator
) -> tuple[_Orders, _Lines]:
    """Free and fee lines, cancellations, returns and exact duplicates on top of the purchases."""
    last_minute = (n_days - 1) * 1440 + _CLOSE_MINUTE - 1
    purchase_lines = [lines, _free_and_fee_lines(orders, lines, cat, rng)]
    all_orders, all_lines = [orders], list(purchase_lines)
    offset = len(orders)
    for share, kind in ((CANCEL_LINE_SHARE, _CANCELLATION), (RETURN_LINE_SHARE, _RETURN)):
        new_orders, new_lines = _reversals(orders, lines, share, kind, last_minute, rng)
        new_lines.order += offset
        offset += len(new_orders)
        all_orders.append(new_orders)
        all_lines.append(new_lines)
    n_purchase_lines = sum(len(part) for part in purchase_lines)
    n_dup = round(DUPLICATE_ROW_SHARE * n_purchase_lines)
    picked = rng.integers(0, n_purchase_lines, size=n_dup)
    all_lines.append(_Lines.take_stacked(purchase_lines, picked))
    return _Orders.concat(all_orders), _Lines.concat(all_lines)


def generate_transactions(
    n_customers: int = _DEFAULTS.n_customers,
    seed: int = _DEFAULTS.seed,
    start: str = _DEFAULTS.start,
    end: str = _DEFAULTS.end,
    dirty: bool = _DEFAULTS.dirty,
    segment_shares: Mapping[str, float] | None = None,
    *,
    first_customer: int = 0,
    first_invoice: int = _FIRST_INVOICE,
    id_digits: int | None = None,
) -> SyntheticData:
    """A realistic online-retail log whose customers fall into planted segments.

    Segments differ in tenure, recency, order count, spend and discount use (LRFMC), with heavy
    tails and some overlap inside each. ``dirty`` adds a few percent each of guest orders
    (missing customer_id), cancellations ("C" invoices), returns, zero-price lines, exact
    duplicates and non-product codes (``NON_PRODUCT_CODES``). Dirt only adds rows, and
    cancellations and returns only reverse orders between a customer's first and last purchase,
    so every labelled customer keeps valid purchases (and the planted recency and tenure) after
    cleaning.
    ``segment_shares`` are relative weights per segment name (normalised; missing names get 0).

    ``first_customer``, ``first_invoice`` and ``id_digits`` number the customers and invoices of
    one chunk of a larger log (``write_log``): customer ``i`` is ``C`` + ``first_customer + i``
    padded to ``id_digits`` (default: at least 6 digits).
    """
    log = _draw_log(n_customers, seed, start, end, dirty, segment_shares)
    ids = _customer_ids(len(log.customers), first_customer, id_digits)
    frame = _frame(log, _lookups(log, ids, first_invoice), log.written)
    labels = pd.Series(
        pd.Categorical.from_codes(log.customers.segment, categories=list(SEGMENTS)),
        index=pd.Index(ids.to_numpy(), dtype="str", name=CUSTOMER_ID),
        name="segment",
    )
    return SyntheticData(transactions=frame, labels=labels, snapshot_date=default_snapshot(frame))


@dataclass
class _Log:
    """A drawn log before its columns are spelled out."""

    customers: _Customers
    orders: _Orders  # one per invoice
    lines: _Lines
    written: np.ndarray  # indices into lines in the order they are written: invoice by invoice
    invoice_rank: np.ndarray  # per order: its invoice number less the first one
    window_start: pd.Timestamp
    n_days: int


def _check_count(n_customers) -> int:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise SegmentationError(
            f"n_customers must be a whole number, got {n_customers!r}. Pass e.g. n_customers=5000."
        )
    if n_customers < 1:
        raise SegmentationError(
            f"n_customers must be at least 1, got {n_customers}. Pass e.g. n_customers=5000."
        )
    return int(n_customers)


def _draw_log(
    n_customers: int,
    seed: int,
    start: str,
    end: str,
    dirty: bool,
    segment_shares: Mapping[str, float] | None,
) -> _Log:
    """Every random draw of a log, as numbers: customers, orders, lines and the line order."""
    n_customers = _check_count(n_customers)
    shares = _resolve_shares(segment_shares)
    window_start, n_days = _resolve_window(start, end)
    rng = np.random.default_rng(seed)
    cat = _catalogue()
    weight = _day_weights(window_start, n_days)
    cum = np.cumsum(weight)
    month_of_day = pd.date_range(window_start, periods=n_days, freq="D").month.to_numpy()

    cust = _draw_customers(n_customers, shares, n_days, rng)
    orders = _draw_customer_orders(cust, cum, weight, rng)
    if dirty:
        n_guest = round(GUEST_ORDER_SHARE * len(orders))
        orders = _Orders.concat([orders, _draw_guest_orders(n_guest, cum, rng)])
    # Chronological orders make every later row-level gather nearly sequential.
    orders = orders.take(_stable_order(orders.time))
    lines = _product_lines(orders, cust, month_of_day, cat, rng)
    n_product_lines = len(lines)
    if dirty:
        orders, lines = _add_dirt(orders, lines, cat, n_days, rng)

    invoice_rank = _invoice_ranks(orders)
    # Product lines come first and are already in invoice order; only the dirt is sorted in.
    written = _stable_order_after(invoice_rank[lines.order], n_product_lines)
    return _Log(cust, orders, lines, written, invoice_rank, window_start, n_days)


def _stable_order_after(key: np.ndarray, n_sorted: int) -> np.ndarray:
    """``argsort(key, kind="stable")`` when ``key[:n_sorted]`` is already non-decreasing.

    The rest is sorted on its own and merged in after the equal keys of the sorted head, which
    is what a stable sort of the whole does; much cheaper when the head is most of the keys.
    """
    head, tail = key[:n_sorted], key[n_sorted:]
    if np.any(head[1:] < head[:-1]):
        return _stable_order(key)
    tail_order = _stable_order(tail)
    at = np.searchsorted(head, tail[tail_order], side="right") + np.arange(len(tail))
    order = np.empty(len(key), dtype=np.int64)
    from_tail = np.zeros(len(key), dtype=bool)
    from_tail[at] = True
    order[at] = n_sorted + tail_order
    order[~from_tail] = np.arange(n_sorted)
    return order


def _customer_ids(n: int, first: int = 0, digits: int | None = None) -> pl.Series:
    width = digits or max(6, len(str(first + n - 1)))
    number = pl.int_range(first, first + n).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit("C") + number).to_series()


def _invoice_ranks(orders: _Orders) -> np.ndarray:
    """Position of each order in time order (cancellations and returns after a purchase of the
    same minute): the invoice numbers, less the first one."""
    by_time = _stable_order(orders.time * 3 + orders.kind)
    rank = np.empty(len(orders), dtype=np.int64)
    rank[by_time] = np.arange(len(orders))
    return rank


@dataclass(frozen=True)
class _Lookups:
    """What a line's columns are gathered from: per customer, per order and per product.

    Text is built once per customer, order or product and gathered by position, never spelled
    per line; guests point at a trailing null customer.
    """

    customer_id: pl.Series  # per customer, then null
    signup_date: pl.Series  # per customer, then null
    owner: np.ndarray  # per order: customer position, len(customers) for a guest
    invoice_id: pl.Series  # per order
    invoice_date: np.ndarray  # per order, datetime64[us]
    rate: np.ndarray  # per order: the discount rate of a purchase, else 0
    country: np.ndarray  # per order: index into COUNTRIES
    stock_code: pl.Series  # per catalogue entry
    description: pl.Series
    countries: pl.Series


def _lookups(log: _Log, customer_ids: pl.Series, first_invoice: int) -> _Lookups:
    orders, cat = log.orders, _catalogue()
    snapshot = np.datetime64(log.window_start.date(), "D") + np.timedelta64(log.n_days, "D")
    signup = (snapshot - log.customers.signup_age.astype("timedelta64[D]")).astype("datetime64[us]")
    null = pl.Series([None])
    number = pl.Series(log.invoice_rank + first_invoice).cast(pl.String)
    cancelled = pl.Series(orders.kind == _CANCELLATION)
    invoice_id = pl.select(pl.when(cancelled).then(pl.lit("C") + number).otherwise(number))
    base = np.datetime64(log.window_start.date(), "m")
    return _Lookups(
        customer_id=pl.concat([customer_ids, null.cast(pl.String)], rechunk=True),
        signup_date=pl.concat([pl.Series(signup), null.cast(pl.Datetime("us"))], rechunk=True),
        owner=np.where(orders.customer < 0, len(customer_ids), orders.customer),
        invoice_id=invoice_id.to_series(),
        invoice_date=(base + orders.time.astype("timedelta64[m]")).astype("datetime64[us]"),
        rate=np.where(orders.kind == _PURCHASE, orders.rate, 0.0),
        country=orders.country,
        stock_code=pl.Series(cat.stock_code, dtype=pl.String),
        description=pl.Series(cat.description, dtype=pl.String),
        countries=pl.Series([c for c, _ in COUNTRIES], dtype=pl.String),
    )


def _frame(log: _Log, lookups: _Lookups, rows: np.ndarray) -> pl.DataFrame:
    """The log's columns for the lines at ``rows``, in that order."""
    order = log.lines.order[rows]
    product = log.lines.product[rows]
    quantity = log.lines.quantity[rows]
    price = log.lines.price[rows]
    amount = quantity * price
    discount = lookups.rate[order]
    discount *= amount
    owner = lookups.owner[order]
    columns = {
        CUSTOMER_ID: lookups.customer_id.gather(owner),
        INVOICE_ID: lookups.invoice_id.gather(order),
        INVOICE_DATE: pl.Series(lookups.invoice_date[order]),
        STOCK_CODE: lookups.stock_code.gather(product),
        DESCRIPTION: lookups.description.gather(product),
        QUANTITY: pl.Series(quantity),
        UNIT_PRICE: pl.Series(price),
        AMOUNT: pl.Series(amount),
        DISCOUNT: pl.Series(np.round(discount, 2)),
        SIGNUP_DATE: lookups.signup_date.gather(owner),
        COUNTRY: lookups.countries.gather(lookups.country[order]),
    }
    return pl.DataFrame([columns[c].alias(c) for c in TRANSACTION_COLUMNS])


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of one chunk of a chunked log: ``seed`` itself for the first chunk, so a log of
    one chunk is exactly ``generate_transactions(n, seed)``."""
    if chunk == 0:
        return seed
    return int(np.random.SeedSequence((seed, chunk)).generate_state(1)[0])


def labels_path(log_path: str | Path) -> Path:
    """Where ``write_log`` puts the planted segments of a log: ``<name>.labels.parquet``."""
    path = Path(log_path)
    return path.with_name(path.name.split(".")[0] + ".labels.parquet")


def write_log(
    path: str | Path,
    n_customers: int = _DEFAULTS.n_customers,
    seed: int = _DEFAULTS.seed,
    start: str = _DEFAULTS.start,
    end: str = _DEFAULTS.end,
    dirty: bool = _DEFAULTS.dirty,
    segment_shares: Mapping[str, float] | None = None,
    chunk_customers: int = 1_000_000,
) -> tuple[Path, Path]:
    """Write a synthetic log to Parquet, ``chunk_customers`` customers at a time.

    Memory stays that of one chunk's draws, whatever ``n_customers``: the lines are spelled out
    and written ``ROW_GROUP_LINES`` at a time, as Parquet row groups, while the next ones are
    built. Chunk ``k`` draws from ``chunk_seed(seed, k)`` and numbers its customers and
    invoices after the previous chunks'; with one chunk (``n_customers <= chunk_customers``)
    the file holds exactly ``generate_transactions(n_customers, seed, ...)``. The planted
    segments go to ``labels_path(path)`` (``customer_id``, ``segment``). Returns both paths.
    """
    n_customers = _check_count(n_customers)
    if chunk_customers < 1:
        raise SegmentationError(
            f"chunk_customers must be at least 1, got {chunk_customers}; e.g. 1000000."
        )
    path = Path(path)
    if path.is_dir():
        raise SegmentationError(
            f"output {path} is a folder; give a .parquet file path, e.g. {path / 'shop.parquet'}."
        )
    digits = max(6, len(str(n_customers - 1)))
    segments = pl.Series(SEGMENTS, dtype=pl.String)
    labels = []
    first_invoice = _FIRST_INVOICE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _ParquetSink(path) as sink:
            for chunk, first in enumerate(range(0, n_customers, chunk_customers)):
                log = _draw_log(
                    min(chunk_customers, n_customers - first),
                    chunk_seed(seed, chunk),
                    start,
                    end,
                    dirty,
                    segment_shares,
                )
                ids = _customer_ids(len(log.customers), first, digits)
                lookups = _lookups(log, ids, first_invoice)
                for at in range(0, len(log.written), ROW_GROUP_LINES):
                    sink.write(_frame(log, lookups, log.written[at : at + ROW_GROUP_LINES]))
                first_invoice += len(log.orders)
                segment = segments.gather(log.customers.segment.astype(np.int64))
                labels.append(pl.DataFrame({CUSTOMER_ID: ids, "segment": segment}))
                del log, lookups
        pl.concat(labels).write_parquet(labels_path(path))
    except OSError as exc:
        raise SegmentationError(
            f"cannot write the synthetic log to {path} ({exc}). Give output= a writable "
            ".parquet file path (not a folder), e.g. output=data/shop.parquet."
        ) from exc
    return path, labels_path(path)


ROW_GROUP_LINES = 1 << 20
# Columns with few distinct values per row group, where a Parquet dictionary pays; ids and
# times are nearly unique per line and are written plain (smaller and cheaper that way).
_DICTIONARY_COLUMNS = [
    c for c in TRANSACTION_COLUMNS if c not in (CUSTOMER_ID, INVOICE_ID, INVOICE_DATE)
]


# Min/max statistics where a reader may filter on them; text columns go without (they cost a
# sixth of the writing and no query of this project filters on them).
_STATISTICS_COLUMNS = [
    INVOICE_DATE,
    QUANTITY,
    UNIT_PRICE,
    AMOUNT,
    DISCOUNT,
    SIGNUP_DATE,
]


class _ParquetSink:
    """Row groups appended to one Parquet file on a background thread.

    Hand-written because neither pyarrow's ``ParquetWriter`` (it encodes on the calling thread)
    nor polars (its sinks take a lazy query, not frames built one by one) overlaps encoding the
    last row group with building the next. At most two row groups wait, so memory stays bounded.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = None
        self.pending: collections.deque[Future] = collections.deque()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")

    def write(self, frame: pl.DataFrame) -> None:
        while len(self.pending) >= 2:
            self.pending.popleft().result()
        table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
        self.pending.append(self.pool.submit(self._write, table))

    def _write(self, table) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.path,
                table.schema,
                compression="zstd",
                use_dictionary=_DICTIONARY_COLUMNS,
                write_statistics=_STATISTICS_COLUMNS,
                store_schema=False,
            )
        self.writer.write_table(table, row_group_size=len(table))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown()
            if self.writer is not None:
                self.writer.close()

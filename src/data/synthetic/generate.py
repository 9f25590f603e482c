"""Seeded synthetic e-commerce transaction log with planted customer segments.

The embedded default dataset: it needs no download, has known ground truth (so a sweep can be
scored by how well it recovers the planted segments) and carries the kinds of dirt a real
online-retail export has (guest orders, cancellations, returns, free lines, duplicates, postage
and fee lines), so the cleaning step is exercised on every run.

Generation is vectorised over customers, orders and lines; Python only loops over segments,
so a million customers take well under a minute.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
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
    return np.minimum(np.searchsorted(cum, u, side="right"), hi)


def _snap_days(cum: np.ndarray, weight: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Move days the shop is shut to the next open day."""
    before = np.concatenate(([0.0], cum))
    u = before[day] + 0.5 * weight[day]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)


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
    product = np.searchsorted(shifted, group + rng.random(len(order)), side="right")
    product = np.clip(product - group * cat.n_products, 0, cat.n_products - 1)

    key = order * cat.n_products + product
    by_key = np.argsort(key, kind="stable")  # nearly sorted already, so this is cheap
    repeated = np.zeros(len(key), dtype=bool)
    repeated[by_key[1:][key[by_key[1:]] == key[by_key[:-1]]]] = True
    keep = ~repeated
    order, product = order[keep], product[keep]

    qty = rng.geometric(1.0 / mean_qty[order]).astype(np.float64)
    bulk = rng.random(len(order)) < 0.02
    qty = np.where(bulk, qty * rng.choice(np.array([6.0, 12.0, 24.0]), size=len(order)), qty)
    price = cat.price[product]
    price = np.where(qty >= 24, np.round(price * 0.85, 2), price)
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
    purchase_lines = _Lines.concat([lines, _free_and_fee_lines(orders, lines, cat, rng)])
    all_orders, all_lines = [orders], [purchase_lines]
    offset = len(orders)
    for share, kind in ((CANCEL_LINE_SHARE, _CANCELLATION), (RETURN_LINE_SHARE, _RETURN)):
        new_orders, new_lines = _reversals(orders, lines, share, kind, last_minute, rng)
        new_lines.order += offset
        offset += len(new_orders)
        all_orders.append(new_orders)
        all_lines.append(new_lines)
    n_dup = round(DUPLICATE_ROW_SHARE * len(purchase_lines))
    all_lines.append(purchase_lines.take(rng.integers(0, len(purchase_lines), size=n_dup)))
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
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise SegmentationError(
            f"n_customers must be a whole number, got {n_customers!r}. Pass e.g. n_customers=5000."
        )
    if n_customers < 1:
        raise SegmentationError(
            f"n_customers must be at least 1, got {n_customers}. Pass e.g. n_customers=5000."
        )
    shares = _resolve_shares(segment_shares)
    window_start, n_days = _resolve_window(start, end)
    rng = np.random.default_rng(seed)
    cat = _catalogue()
    weight = _day_weights(window_start, n_days)
    cum = np.cumsum(weight)
    month_of_day = pd.date_range(window_start, periods=n_days, freq="D").month.to_numpy()

    cust = _draw_customers(int(n_customers), shares, n_days, rng)
    orders = _draw_customer_orders(cust, cum, weight, rng)
    if dirty:
        n_guest = round(GUEST_ORDER_SHARE * len(orders))
        orders = _Orders.concat([orders, _draw_guest_orders(n_guest, cum, rng)])
    # Chronological orders make every later row-level gather nearly sequential.
    orders = orders.take(_stable_order(orders.time))
    lines = _product_lines(orders, cust, month_of_day, cat, rng)
    if dirty:
        orders, lines = _add_dirt(orders, lines, cat, n_days, rng)

    invoice_rank = _invoice_ranks(orders)
    lines = lines.take(_stable_order(invoice_rank[lines.order]))  # invoice by invoice
    ids = _customer_ids(len(cust), first_customer, id_digits)
    frame = _assemble(
        orders, lines, invoice_rank + first_invoice, ids, cust, window_start, n_days, cat
    )
    del orders, lines, invoice_rank
    snapshot = default_snapshot(frame)
    labels = pd.Series(
        pd.Categorical.from_codes(cust.segment, categories=list(SEGMENTS)),
        index=pd.Index(ids.to_numpy(), dtype="str", name=CUSTOMER_ID),
        name="segment",
    )
    return SyntheticData(transactions=frame, labels=labels, snapshot_date=snapshot)


def _customer_ids(n: int, first: int = 0, digits: int | None = None) -> pl.Series:
    width = digits or max(6, len(str(first + n - 1)))
    number = pl.int_range(first, first + n).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit("C") + number).to_series()


def _gather(labels, idx: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    """``labels[idx]`` (``missing``: no value); text labels are shared, not copied per line."""
    positions = pl.Series(idx, dtype=pl.UInt32)
    if missing is not None:
        positions = pl.select(pl.when(pl.Series(missing)).then(None).otherwise(positions))
        positions = positions.to_series()
    if not isinstance(labels, pl.Series):
        labels = pl.Series(labels, dtype=pl.String)
    return labels.gather(positions)


def _invoice_ranks(orders: _Orders) -> np.ndarray:
    """Position of each order in time order (cancellations and returns after a purchase of the
    same minute): the invoice numbers, less the first one."""
    by_time = _stable_order(orders.time * 3 + orders.kind)
    rank = np.empty(len(orders), dtype=np.int64)
    rank[by_time] = np.arange(len(orders))
    return rank


def _assemble(
    orders: _Orders,
    lines: _Lines,
    invoice_number: np.ndarray,
    customer_ids: pl.Series,
    cust: _Customers,
    window_start: pd.Timestamp,
    n_days: int,
    cat: _Catalogue,
) -> pl.DataFrame:
    """The log's columns from orders and lines (already laid out invoice by invoice).

    Columns are built one at a time and each line-level temporary is dropped as soon as its
    column exists, which keeps the peak near the size of the finished frame.
    """
    number = pl.Series(invoice_number).cast(pl.String)
    cancelled = pl.Series(orders.kind == _CANCELLATION)
    invoice_text = pl.select(pl.when(cancelled).then(pl.lit("C") + number).otherwise(number))
    del number, cancelled
    order = lines.order
    out: dict[str, pl.Series] = {}

    owner = orders.customer[order]
    guest = owner < 0
    np.maximum(owner, 0, out=owner)
    out[CUSTOMER_ID] = _gather(customer_ids, owner, guest)
    snapshot = np.datetime64(window_start.date(), "D") + np.timedelta64(n_days, "D")
    signup = (snapshot - cust.signup_age.astype("timedelta64[D]")).astype("datetime64[us]")
    out[SIGNUP_DATE] = _gather(pl.Series(signup), owner, guest)
    del owner, guest
    out[INVOICE_ID] = _gather(invoice_text.to_series(), order)
    del invoice_text
    minutes = orders.time[order].astype("timedelta64[m]")
    base = np.datetime64(window_start.date(), "m")
    out[INVOICE_DATE] = pl.Series((base + minutes).astype("datetime64[us]"))
    del minutes
    out[STOCK_CODE] = _gather(cat.stock_code, lines.product)
    out[DESCRIPTION] = _gather(cat.description, lines.product)
    out[QUANTITY] = pl.Series(lines.quantity)
    out[UNIT_PRICE] = pl.Series(lines.price)
    amount = lines.quantity * lines.price
    rate = np.where(orders.kind == _PURCHASE, orders.rate, 0.0)[order]
    rate *= amount
    out[DISCOUNT] = pl.Series(np.round(rate, 2))
    del rate
    out[AMOUNT] = pl.Series(amount)
    del amount
    out[COUNTRY] = _gather([c for c, _ in COUNTRIES], orders.country[order])
    return pl.DataFrame([out[c].alias(c) for c in TRANSACTION_COLUMNS])


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

    Memory stays that of one chunk, whatever ``n_customers``. Chunk ``k`` draws from
    ``chunk_seed(seed, k)`` and numbers its customers and invoices after the previous chunks';
    with one chunk (``n_customers <= chunk_customers``) the file holds exactly
    ``generate_transactions(n_customers, seed, ...)``. The planted segments go to
    ``labels_path(path)`` (``customer_id``, ``segment``). Returns both paths.
    """
    import pyarrow.parquet as pq

    if chunk_customers < 1:
        raise SegmentationError(
            f"chunk_customers must be at least 1, got {chunk_customers}; e.g. 1000000."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    digits = max(6, len(str(n_customers - 1)))
    writer = labels = None
    first_invoice = _FIRST_INVOICE
    try:
        for chunk, first in enumerate(range(0, n_customers, chunk_customers)):
            data = generate_transactions(
                min(chunk_customers, n_customers - first),
                chunk_seed(seed, chunk),
                start,
                end,
                dirty,
                segment_shares,
                first_customer=first,
                first_invoice=first_invoice,
                id_digits=digits,
            )
            first_invoice += data.transactions[INVOICE_ID].str.strip_prefix("C").n_unique()
            table = data.transactions.to_arrow()
            writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=1 << 20)
            del table, data.transactions
            segment = pl.from_pandas(
                data.labels.astype("str").rename_axis(CUSTOMER_ID).reset_index()
            )
            labels = segment if labels is None else pl.concat([labels, segment])
    finally:
        if writer is not None:
            writer.close()
    labels.write_parquet(labels_path(path))
    return path, labels_path(path)

"""Seeded synthetic e-commerce transaction log with planted customer segments.

The embedded default dataset: it needs no download, has known ground truth (so a sweep can be
scored by how well it recovers the planted segments) and carries the kinds of dirt a real
online-retail export has (guest orders, cancellations, returns, free lines, duplicates, postage
and fee lines), so the cleaning step is exercised on every run.

Generation is vectorised over customers, orders and lines; Python only loops over segments and
product-choice groups, so a million customers fit in about a minute.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from src.errors import SegmentationError
from src.schema import (
    AMOUNT,
    COUNTRY,
    CREATED_AT,
    CUSTOMER_ID,
    DATA_PULLED_DATE,
    DESCRIPTION,
    DISCOUNT,
    INVOICE_DATE,
    INVOICE_ID,
    LAST_ORDER_DATE,
    QUANTITY,
    SIGNUP_DATE,
    STOCK_CODE,
    SUMMARY_COLUMNS,
    TOTAL_MONEY_SPENT,
    TOTAL_TRANSACTION,
    TRAN_WITH_DISC,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
    USER_ID,
)

SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "new",
    "at_risk",
    "hibernating",
    "discount_hunters",
)

DEFAULT_SEGMENT_SHARES: dict[str, float] = {
    "champions": 0.12,
    "loyal": 0.20,
    "new": 0.16,
    "at_risk": 0.16,
    "hibernating": 0.20,
    "discount_hunters": 0.16,
}

# Stock codes that are charges or bookkeeping, not products (as in the UCI Online Retail export).
NON_PRODUCT_CODES: dict[str, str] = {
    "POST": "POSTAGE",
    "DOT": "DOTCOM POSTAGE",
    "C2": "CARRIAGE",
    "M": "Manual",
    "BANK CHARGES": "Bank Charges",
    "AMAZONFEE": "AMAZON FEE",
}

HOME_COUNTRY = "United Kingdom"
_COUNTRIES = (
    (HOME_COUNTRY, 0.86),
    ("Germany", 0.025),
    ("France", 0.022),
    ("EIRE", 0.018),
    ("Netherlands", 0.012),
    ("Spain", 0.01),
    ("Belgium", 0.01),
    ("Switzerland", 0.008),
    ("Portugal", 0.007),
    ("Norway", 0.006),
    ("Italy", 0.006),
    ("Australia", 0.005),
    ("Sweden", 0.004),
    ("Denmark", 0.003),
    ("Finland", 0.002),
    ("Japan", 0.002),
)

# Purchase-level order kinds; cancellations and returns sort after a purchase at the same minute.
_PURCHASE, _CANCELLATION, _RETURN = 0, 1, 2
_FIRST_INVOICE = 500_001
_OPEN_MINUTE, _CLOSE_MINUTE = 7 * 60, 20 * 60

# Shares of dirt when dirty=True (relative to product lines, or orders for fee lines).
_GUEST_ORDER_SHARE = 0.03
_CANCEL_LINE_SHARE = 0.02
_RETURN_LINE_SHARE = 0.01
_FREE_LINE_SHARE = 0.01
_FEE_ORDER_SHARE = 0.03
_DUPLICATE_ROW_SHARE = 0.01


@dataclass(frozen=True)
class _Profile:
    """How one planted segment behaves; ages are days before the snapshot."""

    tenure: tuple[float, float, float, float]  # signup age: lognormal median, sigma, min, max
    recency: tuple[float, float, float, float]  # last-order age: lognormal median, sigma, min, max
    orders: tuple[int, float, float, int]  # min orders, mean extra (neg. binomial), dispersion, max
    first_order: tuple[float, float]  # beta(a, b): first order between last order and signup
    lines: float  # mean lines per order
    quantity: float  # median of the customer's mean quantity per line
    discount: tuple[float, float]  # beta(a, b) of the customer's chance an order is discounted
    categories: tuple[float, ...]  # relative preference per catalogue category


_CATEGORY_NAMES = (
    "home_decor",
    "kitchen",
    "stationery",
    "party",
    "toys",
    "garden",
    "bags",
    "lighting",
    "christmas",
)

_PROFILES: dict[str, _Profile] = {
    "champions": _Profile(
        tenure=(950, 0.35, 400, 3000),
        recency=(5, 0.8, 1, 30),
        orders=(12, 12.0, 5.0, 120),
        first_order=(6.0, 1.3),
        lines=2.6,
        quantity=15.0,
        discount=(1.0, 20.0),
        categories=(3.0, 2.0, 1.0, 0.8, 0.8, 1.5, 1.0, 3.0, 1.0),
    ),
    "loyal": _Profile(
        tenure=(750, 0.35, 250, 3000),
        recency=(28, 0.45, 3, 90),
        orders=(4, 4.0, 8.0, 30),
        first_order=(4.0, 1.5),
        lines=2.0,
        quantity=7.0,
        discount=(2.0, 30.0),
        categories=(2.0, 3.0, 1.5, 1.0, 1.0, 1.5, 1.5, 1.0, 1.0),
    ),
    "new": _Profile(
        tenure=(40, 0.6, 3, 150),
        recency=(14, 0.8, 1, 150),
        orders=(1, 0.5, 2.0, 3),
        first_order=(8.0, 1.0),
        lines=2.0,
        quantity=4.0,
        discount=(1.0, 60.0),
        categories=(1.0, 1.0, 1.5, 2.0, 2.5, 1.0, 2.0, 1.0, 1.0),
    ),
    "at_risk": _Profile(
        tenure=(950, 0.35, 400, 3000),
        recency=(290, 0.25, 150, 600),
        orders=(5, 6.0, 6.0, 40),
        first_order=(5.0, 1.2),
        lines=2.0,
        quantity=7.0,
        discount=(2.0, 30.0),
        categories=(1.5, 1.5, 1.0, 1.0, 1.0, 3.0, 2.0, 1.0, 1.0),
    ),
    "hibernating": _Profile(
        tenure=(850, 0.4, 200, 3000),
        recency=(430, 0.3, 150, 5000),
        orders=(1, 0.5, 2.0, 3),
        first_order=(1.0, 3.0),
        lines=1.8,
        quantity=3.0,
        discount=(1.0, 60.0),
        categories=(1.0, 1.0, 1.0, 2.0, 1.5, 1.0, 1.0, 1.0, 3.0),
    ),
    "discount_hunters": _Profile(
        tenure=(450, 0.45, 60, 3000),
        recency=(40, 0.7, 1, 300),
        orders=(5, 3.0, 6.0, 30),
        first_order=(3.0, 1.5),
        lines=2.0,
        quantity=5.0,
        discount=(18.0, 2.0),
        categories=(1.0, 1.0, 3.0, 3.0, 1.5, 0.5, 1.5, 0.5, 1.0),
    ),
}

# Catalogue: (median unit price, product nouns) per category; products are colour/style + noun.
_CATALOGUE_SEED = 20_231_101
_PRODUCTS_PER_CATEGORY = 38
_ZIPF_EXPONENT = 1.1
_CATEGORY_ITEMS: dict[str, tuple[float, tuple[str, ...]]] = {
    "home_decor": (
        3.5,
        ("T-LIGHT HOLDER", "PHOTO FRAME", "CUSHION COVER", "DOORMAT", "WALL CLOCK", "MIRROR"),
    ),
    "kitchen": (
        2.8,
        ("CAKE CASES", "TEA TOWEL", "MUG", "JAM JAR", "LUNCH BOX", "APRON", "CAKESTAND"),
    ),
    "stationery": (
        1.1,
        ("NOTEBOOK", "PENCIL SET", "GREETING CARD", "WRAPPING PAPER", "GIFT TAG", "MEMO BOARD"),
    ),
    "party": (
        0.9,
        ("PAPER NAPKINS", "PARTY BAG", "PAPER CUPS", "PAPER PLATES", "BUNTING", "PARTY CANDLES"),
    ),
    "toys": (
        2.2,
        ("JIGSAW", "SKIPPING ROPE", "TOY TEA SET", "RAG DOLL", "SPINNING TOP", "KITE"),
    ),
    "garden": (
        4.2,
        ("WATERING CAN", "PLANT POT", "BIRD FEEDER", "GARDEN KNEELER", "HERB MARKERS"),
    ),
    "bags": (
        1.9,
        ("JUMBO BAG", "SHOPPER BAG", "LUNCH BAG", "CHARLOTTE BAG", "PURSE", "WASHBAG"),
    ),
    "lighting": (
        4.8,
        ("TABLE LAMP", "FAIRY LIGHTS", "NIGHT LIGHT", "LANTERN", "STRING LIGHTS", "CANDLE POT"),
    ),
    "christmas": (
        1.8,
        ("BAUBLE", "ADVENT CALENDAR", "TREE DECORATION", "STOCKING", "WREATH", "CRACKERS"),
    ),
}
_STYLES = (
    "RED",
    "PINK",
    "BLUE",
    "WHITE",
    "IVORY",
    "GREEN",
    "VINTAGE",
    "RETRO",
    "SPOTTY",
    "FLORAL",
    "PAISLEY",
    "REGENCY",
    "SCANDINAVIAN",
    "HEART",
    "STAR",
    "WOODEN",
    "ENAMEL",
    "GLASS",
    "JUMBO",
    "MINI",
    "RUSTIC",
    "PARISIENNE",
)
_CHRISTMAS_BOOST = {10: 3.0, 11: 5.0, 12: 4.0}  # month -> weight of christmas products
_CHRISTMAS_OFF_SEASON = 0.15

# Demand over the calendar: autumn build-up to a November peak, quiet weekends, shut at Christmas.
_MONTH_WEIGHT = np.array([0.75, 0.75, 0.9, 0.85, 0.95, 0.9, 0.85, 0.9, 1.2, 1.35, 1.75, 1.1])
_WEEKDAY_WEIGHT = np.array([1.05, 1.1, 1.05, 1.15, 0.9, 0.45, 0.7])  # Monday first
_HOUR_WEIGHT = np.array([0.3, 0.8, 1.0, 1.2, 1.3, 1.4, 1.3, 1.2, 1.0, 0.8, 0.5, 0.35, 0.2])


@dataclass
class SyntheticData:
    """A generated log, its planted segments (ground truth only) and its snapshot date."""

    transactions: pd.DataFrame
    labels: pd.Series
    snapshot_date: pd.Timestamp


@dataclass(frozen=True)
class _Catalogue:
    stock_code: pa.Array  # products first, then NON_PRODUCT_CODES
    description: pa.Array
    category: np.ndarray  # category index per product
    price: np.ndarray  # base unit price per product
    popularity: np.ndarray  # Zipf weight per product

    @property
    def n_products(self) -> int:
        return len(self.category)


@functools.cache
def _catalogue() -> _Catalogue:
    """Fixed across seeds, like a shop's catalogue; popularity is Zipf over a shuffled ranking."""
    rng = np.random.default_rng(_CATALOGUE_SEED)
    names, categories, prices = [], [], []
    for c, (median_price, nouns) in enumerate(_CATEGORY_ITEMS.values()):
        pairs = [(style, noun) for noun in nouns for style in _STYLES]
        chosen = rng.choice(len(pairs), size=_PRODUCTS_PER_CATEGORY, replace=False)
        names += [f"{pairs[i][0]} {pairs[i][1]}" for i in chosen]
        categories += [c] * _PRODUCTS_PER_CATEGORY
        raw = median_price * rng.lognormal(0.0, 0.55, _PRODUCTS_PER_CATEGORY)
        prices += list(np.maximum(np.round(raw / 0.05) * 0.05, 0.1).round(2))
    n = len(names)
    numbers = rng.choice(np.arange(10_000, 100_000), size=n, replace=False)
    suffix = np.where(rng.random(n) < 0.2, rng.choice(list("ABCDEF"), size=n), "")
    codes = [f"{num}{suf}" for num, suf in zip(numbers, suffix, strict=True)]
    ranks = rng.permutation(n) + 1
    return _Catalogue(
        stock_code=pa.array(codes + list(NON_PRODUCT_CODES)),
        description=pa.array(names + list(NON_PRODUCT_CODES.values())),
        category=np.array(categories, dtype=np.int8),
        price=np.array(prices),
        popularity=1.0 / ranks**_ZIPF_EXPONENT,
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
    weight = _MONTH_WEIGHT[days.month - 1] * _WEEKDAY_WEIGHT[days.dayofweek]
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
    p = _HOUR_WEIGHT / _HOUR_WEIGHT.sum()
    hours = rng.choice(len(p), size=n, p=p) + _OPEN_MINUTE // 60
    return hours * 60 + rng.integers(0, 60, size=n)


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


@dataclass
class _Customers:
    segment: np.ndarray  # int8 index into SEGMENTS
    signup_age: np.ndarray  # days before the snapshot
    last_age: np.ndarray
    first_age: np.ndarray
    n_orders: np.ndarray
    p_discount: np.ndarray
    lines: np.ndarray  # mean lines per order
    quantity: np.ndarray  # mean quantity per line
    country: np.ndarray  # index into _COUNTRIES


def _draw_customers(
    n: int, shares: np.ndarray, n_days: int, rng: np.random.Generator
) -> _Customers:
    segment = np.repeat(np.arange(len(SEGMENTS), dtype=np.int8), _segment_counts(n, shares))
    segment = rng.permutation(segment)
    out = {
        key: np.empty(n, dtype=np.int64) for key in ("signup_age", "last_age", "first_age")
    }
    out["n_orders"] = np.empty(n, dtype=np.int64)
    for key in ("p_discount", "lines", "quantity"):
        out[key] = np.empty(n)
    for s, name in enumerate(SEGMENTS):
        idx = np.flatnonzero(segment == s)
        m = len(idx)
        if m == 0:
            continue
        prof = _PROFILES[name]
        signup = np.rint(_lognormal(prof.tenure, m, rng)).astype(np.int64)
        horizon = np.minimum(signup, n_days)
        last = np.rint(_lognormal(prof.recency, m, rng)).astype(np.int64)
        last = np.clip(last, 1, horizon)
        first = last + np.floor((horizon - last) * rng.beta(*prof.first_order, m)).astype(np.int64)
        lo, extra, dispersion, hi = prof.orders
        n_orders = lo + rng.negative_binomial(dispersion, dispersion / (dispersion + extra), m)
        n_orders = np.minimum(n_orders, hi)
        first = np.where(n_orders == 1, last, first)
        out["signup_age"][idx] = signup
        out["last_age"][idx] = last
        out["first_age"][idx] = first
        out["n_orders"][idx] = n_orders
        out["p_discount"][idx] = rng.beta(*prof.discount, m)
        out["lines"][idx] = prof.lines
        out["quantity"][idx] = np.maximum(prof.quantity * rng.lognormal(0.0, 0.35, m), 1.0)
    p_country = np.array([p for _, p in _COUNTRIES])
    country = rng.choice(len(_COUNTRIES), size=n, p=p_country / p_country.sum())
    return _Customers(segment=segment, country=country.astype(np.int8), **out)


@dataclass
class _Orders:
    customer: np.ndarray  # index into customers, -1 for guest orders
    day: np.ndarray  # day index in the window
    minute: np.ndarray  # minute of day
    rate: np.ndarray  # discount rate of the order, 0 when none
    kind: np.ndarray  # _PURCHASE, _CANCELLATION or _RETURN
    country: np.ndarray
    interior: np.ndarray  # neither the customer's first nor last order

    @classmethod
    def concat(cls, parts: list[_Orders]) -> _Orders:
        return cls(
            **{
                f: np.concatenate([getattr(p, f) for p in parts])
                for f in cls.__dataclass_fields__
            }
        )


def _discount_rates(discounted: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rates = rng.choice(np.array([0.1, 0.15, 0.2, 0.25]), size=len(discounted))
    return np.where(discounted, rates, 0.0)


def _draw_customer_orders(
    cust: _Customers, cum: np.ndarray, weight: np.ndarray, rng: np.random.Generator
) -> _Orders:
    n_days = len(cum)
    owner = np.repeat(np.arange(len(cust.n_orders)), cust.n_orders)
    starts = np.cumsum(cust.n_orders) - cust.n_orders
    k = np.arange(len(owner)) - starts[owner]
    n = cust.n_orders[owner]
    first_day = n_days - cust.first_age[owner]
    last_day = n_days - cust.last_age[owner]
    day = _sample_days(cum, first_day, last_day, rng)
    is_first, is_last = k == 0, k == n - 1
    day = np.where(is_first, _snap_days(cum, weight, first_day), day)
    day = np.where(is_last, _snap_days(cum, weight, last_day), day)
    day = np.minimum(day, _snap_days(cum, weight, last_day))
    return _Orders(
        customer=owner,
        day=day,
        minute=_minutes_of_day(len(owner), rng),
        rate=_discount_rates(rng.random(len(owner)) < cust.p_discount[owner], rng),
        kind=np.full(len(owner), _PURCHASE, dtype=np.int8),
        country=cust.country[owner],
        interior=~(is_first | is_last),
    )


def _draw_guest_orders(n: int, cum: np.ndarray, rng: np.random.Generator) -> _Orders:
    p_country = np.array([p for _, p in _COUNTRIES])
    day = _sample_days(cum, np.zeros(n, dtype=np.int64), np.full(n, len(cum) - 1), rng)
    return _Orders(
        customer=np.full(n, -1),
        day=day,
        minute=_minutes_of_day(n, rng),
        rate=_discount_rates(rng.random(n) < 0.1, rng),
        kind=np.full(n, _PURCHASE, dtype=np.int8),
        country=rng.choice(len(_COUNTRIES), size=n, p=p_country / p_country.sum()).astype(np.int8),
        interior=np.zeros(n, dtype=bool),
    )


@dataclass
class _Lines:
    order: np.ndarray  # index into the orders table
    product: np.ndarray  # index into the catalogue (fee codes after the products)
    quantity: np.ndarray
    price: np.ndarray

    @classmethod
    def concat(cls, parts: list[_Lines]) -> _Lines:
        return cls(
            **{
                f: np.concatenate([getattr(p, f) for p in parts])
                for f in cls.__dataclass_fields__
            }
        )

    def take(self, idx: np.ndarray) -> _Lines:
        return _Lines(self.order[idx], self.product[idx], self.quantity[idx], self.price[idx])


def _product_lines(
    orders: _Orders,
    cust: _Customers,
    window_start: pd.Timestamp,
    cat: _Catalogue,
    rng: np.random.Generator,
) -> _Lines:
    """Product lines of purchase orders; each product at most once per order."""
    owner = orders.customer
    guest = owner < 0
    safe_owner = np.where(guest, 0, owner)
    mean_lines = np.where(guest, 2.0, cust.lines[safe_owner])
    mean_qty = np.where(guest, 3.0, cust.quantity[safe_owner])
    extra = rng.negative_binomial(2.0, 2.0 / (2.0 + (mean_lines - 1.0)))
    n_lines = 1 + extra
    order = np.repeat(np.arange(len(owner)), n_lines)

    month = (window_start + pd.to_timedelta(orders.day, unit="D")).month.to_numpy()
    season = np.isin(month, list(_CHRISTMAS_BOOST)).astype(np.int64)
    group = np.where(guest, len(SEGMENTS), cust.segment[safe_owner]) * 2 + season
    line_group = group[order]
    product = np.empty(len(order), dtype=np.int64)
    christmas = cat.category == _CATEGORY_NAMES.index("christmas")
    for g in np.unique(line_group):
        seg, in_season = divmod(int(g), 2)
        prefs = np.ones(len(_CATEGORY_NAMES)) if seg == len(SEGMENTS) else None
        if prefs is None:
            prefs = np.array(_PROFILES[SEGMENTS[seg]].categories)
        p = cat.popularity * prefs[cat.category]
        p = np.where(christmas, p * (4.0 if in_season else _CHRISTMAS_OFF_SEASON), p)
        idx = np.flatnonzero(line_group == g)
        product[idx] = rng.choice(len(p), size=len(idx), p=p / p.sum())

    # One line per product per order, keeping the original line order.
    key = order * cat.n_products + product
    by_key = np.argsort(key, kind="stable")
    repeated = np.zeros(len(key), dtype=bool)
    repeated[by_key[1:][key[by_key[1:]] == key[by_key[:-1]]]] = True
    keep = np.flatnonzero(~repeated)
    order, product = order[keep], product[keep]

    qty = rng.geometric(1.0 / mean_qty[order]).astype(np.float64)
    bulk = rng.random(len(order)) < 0.02
    qty = np.where(bulk, qty * rng.choice(np.array([6.0, 12.0, 24.0]), size=len(order)), qty)
    price = cat.price[product]
    price = np.where(qty >= 24, np.round(price * 0.85, 2), price)
    return _Lines(order=order, product=product, quantity=qty, price=price)


def _reversals(
    orders: _Orders,
    lines: _Lines,
    share: float,
    kind: int,
    window_minutes: int,
    rng: np.random.Generator,
) -> tuple[_Orders, _Lines]:
    """Cancellations or returns of lines from customers' interior orders, one invoice per order.

    Only interior orders are touched, so a cleaner that also drops the reversed purchases leaves
    every customer's first and last order (hence recency and tenure) as planted.
    """
    eligible = np.flatnonzero(orders.interior[lines.order] & (orders.kind[lines.order] == _PURCHASE))
    if len(eligible) == 0:
        return _empty_orders(), _empty_lines()
    p = min(1.0, share * len(lines.order) / len(eligible))
    picked = eligible[rng.random(len(eligible)) < p]
    source, new_index = np.unique(lines.order[picked], return_inverse=True)
    n_new = len(source)
    src_time = orders.day[source] * 1440 + orders.minute[source]
    if kind == _CANCELLATION:
        delay = rng.integers(5, 48 * 60, size=n_new)
    else:
        delay = rng.integers(2, 31, size=n_new) * 1440
    time = np.minimum(src_time + delay, window_minutes)
    new_orders = _Orders(
        customer=orders.customer[source],
        day=time // 1440,
        minute=time % 1440,
        rate=np.zeros(n_new),
        kind=np.full(n_new, kind, dtype=np.int8),
        country=orders.country[source],
        interior=np.zeros(n_new, dtype=bool),
    )
    qty = lines.quantity[picked]
    if kind == _RETURN:
        qty = np.floor(rng.random(len(qty)) * qty) + 1
    new_lines = _Lines(
        order=new_index,  # relative to new_orders; offset by the caller
        product=lines.product[picked],
        quantity=-qty,
        price=lines.price[picked],
    )
    return new_orders, new_lines


def _empty_orders() -> _Orders:
    e = np.empty(0, dtype=np.int64)
    return _Orders(e, e, e, np.empty(0), e.astype(np.int8), e.astype(np.int8), e.astype(bool))


def _empty_lines() -> _Lines:
    e = np.empty(0, dtype=np.int64)
    return _Lines(e, e, np.empty(0), np.empty(0))


def _extra_purchase_lines(
    orders: _Orders, lines: _Lines, cat: _Catalogue, rng: np.random.Generator
) -> _Lines:
    """Free (zero-price) product lines and postage/fee lines added to existing purchases."""
    purchases = np.flatnonzero(orders.kind == _PURCHASE)
    n_free = int(round(_FREE_LINE_SHARE * len(lines.order)))
    free = _Lines(
        order=rng.choice(purchases, size=n_free),
        product=rng.choice(cat.n_products, size=n_free, p=cat.popularity / cat.popularity.sum()),
        quantity=rng.integers(1, 13, size=n_free).astype(np.float64),
        price=np.zeros(n_free),
    )
    n_fee = int(round(_FEE_ORDER_SHARE * len(purchases)))
    fee_order = rng.choice(purchases, size=n_fee, replace=False)
    abroad = orders.country[fee_order] != 0
    codes = np.array(list(NON_PRODUCT_CODES))
    p_home = np.array([0.15, 0.3, 0.05, 0.35, 0.1, 0.05])
    p_abroad = np.array([0.75, 0.05, 0.1, 0.05, 0.05, 0.0])
    home_pick = rng.choice(len(codes), size=n_fee, p=p_home)
    abroad_pick = rng.choice(len(codes), size=n_fee, p=p_abroad)
    code = np.where(abroad, abroad_pick, home_pick)
    fee_price = {
        "POST": np.where(rng.random(n_fee) < 0.7, 18.0, 40.0),
        "DOT": np.round(60.0 * rng.lognormal(0.0, 0.8, n_fee), 2),
        "C2": np.full(n_fee, 50.0),
        "M": np.round(np.maximum(3.0 * rng.lognormal(0.0, 1.2, n_fee), 0.01), 2),
        "BANK CHARGES": np.full(n_fee, 15.0),
        "AMAZONFEE": np.round(400.0 * rng.lognormal(0.0, 1.0, n_fee), 2),
    }
    price = np.choose(code, [fee_price[c] for c in codes])
    qty = np.where((codes[code] == "POST") & (rng.random(n_fee) < 0.2), 2.0, 1.0)
    fees = _Lines(order=fee_order, product=cat.n_products + code, quantity=qty, price=price)
    return _Lines.concat([free, fees])


def generate_transactions(
    n_customers: int = 5000,
    seed: int = 0,
    start: str = "2023-01-01",
    end: str = "2024-12-31",
    dirty: bool = True,
    segment_shares: Mapping[str, float] | None = None,
) -> SyntheticData:
    """A realistic online-retail log whose customers fall into planted segments.

    Segments differ in tenure, recency, order count, spend and discount use (LRFMC), with heavy
    tails and some overlap inside each. ``dirty`` adds a few percent each of guest orders
    (missing customer_id), cancellations ("C" invoices), returns, zero-price lines, exact
    duplicates and non-product codes (``NON_PRODUCT_CODES``); none of them touches a customer's
    first or last purchase, so every labelled customer keeps a valid purchase after cleaning.
    ``segment_shares`` are relative weights per segment name (normalised; missing names get 0).
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

    cust = _draw_customers(int(n_customers), shares, n_days, rng)
    orders = _draw_customer_orders(cust, cum, weight, rng)
    if dirty:
        n_guest = int(round(_GUEST_ORDER_SHARE * len(orders.customer)))
        orders = _Orders.concat([orders, _draw_guest_orders(n_guest, cum, rng)])
    lines = _product_lines(orders, cust, window_start, cat, rng)

    if dirty:
        window_minutes = (n_days - 1) * 1440 + _CLOSE_MINUTE - 1
        new_lines = [lines, _extra_purchase_lines(orders, lines, cat, rng)]
        new_orders = [orders]
        offset = len(orders.customer)
        for share, kind in ((_CANCEL_LINE_SHARE, _CANCELLATION), (_RETURN_LINE_SHARE, _RETURN)):
            o, ln = _reversals(orders, lines, share, kind, window_minutes, rng)
            ln.order = ln.order + offset
            offset += len(o.customer)
            new_orders.append(o)
            new_lines.append(ln)
        orders, lines = _Orders.concat(new_orders), _Lines.concat(new_lines)
        n_dup = int(round(_DUPLICATE_ROW_SHARE * len(lines.order)))
        purchase_rows = np.flatnonzero(orders.kind[lines.order] == _PURCHASE)
        lines = _Lines.concat([lines, lines.take(rng.choice(purchase_rows, size=n_dup))])

    frame = _assemble(orders, lines, cust, window_start, n_days, cat)
    snapshot = frame[INVOICE_DATE].max().normalize() + pd.Timedelta(days=1)
    ids = _customer_ids(len(cust.segment))
    labels = pd.Series(
        pd.Categorical.from_codes(cust.segment, categories=list(SEGMENTS)),
        index=pd.Index(pd.array(ids, dtype="str"), name=CUSTOMER_ID),
        name="segment",
    )
    return SyntheticData(transactions=frame, labels=labels, snapshot_date=snapshot)


def _customer_ids(n: int) -> pa.Array:
    width = max(6, len(str(n - 1)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise("C", digits, "")


def _assemble(
    orders: _Orders,
    lines: _Lines,
    cust: _Customers,
    window_start: pd.Timestamp,
    n_days: int,
    cat: _Catalogue,
) -> pd.DataFrame:
    """Number invoices in time order and lay the lines out invoice by invoice."""
    time = orders.day.astype(np.int64) * 1440 + orders.minute
    by_time = np.lexsort((orders.kind, time))
    invoice_no = np.empty(len(time), dtype=np.int64)
    invoice_no[by_time] = _FIRST_INVOICE + np.arange(len(time))
    invoice_text = pc.cast(pa.array(invoice_no), pa.string())
    invoice_text = pc.if_else(
        pa.array(orders.kind == _CANCELLATION),
        pc.binary_join_element_wise("C", invoice_text, ""),
        invoice_text,
    )

    row = np.argsort(invoice_no[lines.order], kind="stable")
    order = lines.order[row]
    product = pa.array(lines.product[row])
    owner = orders.customer[order]
    guest = owner < 0
    owner_idx = pa.array(np.where(guest, 0, owner), mask=guest)

    base = np.datetime64(window_start.date(), "m")
    stamp = (base + time[order].astype("timedelta64[m]")).astype("datetime64[us]")
    snapshot = np.datetime64(window_start.date(), "D") + np.timedelta64(n_days, "D")
    signup = (snapshot - cust.signup_age.astype("timedelta64[D]")).astype("datetime64[us]")
    signup_col = np.where(guest, np.datetime64("NaT", "us"), signup[np.where(guest, 0, owner)])

    qty = lines.quantity[row]
    price = lines.price[row]
    amount = qty * price
    rate = np.where(orders.kind[order] == _PURCHASE, orders.rate[order], 0.0)
    countries = pa.array([c for c, _ in _COUNTRIES])

    return pd.DataFrame(
        {
            CUSTOMER_ID: pd.Series(
                _customer_ids(len(cust.segment)).take(owner_idx), dtype="str"
            ),
            INVOICE_ID: pd.Series(invoice_text.take(pa.array(order)), dtype="str"),
            INVOICE_DATE: stamp,
            STOCK_CODE: pd.Series(cat.stock_code.take(product), dtype="str"),
            DESCRIPTION: pd.Series(cat.description.take(product), dtype="str"),
            QUANTITY: qty,
            UNIT_PRICE: price,
            AMOUNT: amount,
            DISCOUNT: np.round(rate * amount, 2),
            SIGNUP_DATE: signup_col,
            COUNTRY: pd.Series(countries.take(pa.array(orders.country[order])), dtype="str"),
        },
        columns=list(TRANSACTION_COLUMNS),
    )


def _purchase_mask(transactions: pd.DataFrame) -> pd.Series:
    """Rows that are real product purchases by a known customer."""
    mask = (
        transactions[CUSTOMER_ID].notna()
        & ~transactions[INVOICE_ID].astype("str").str.startswith("C")
        & (transactions[QUANTITY] > 0)
        & (transactions[UNIT_PRICE] > 0)
    )
    if STOCK_CODE in transactions.columns:
        mask &= ~transactions[STOCK_CODE].isin(list(NON_PRODUCT_CODES))
    return mask & ~transactions.duplicated()


def to_customer_summary(
    transactions: pd.DataFrame, snapshot_date: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Collapse a transaction log into the per-customer summary schema (``SUMMARY_COLUMNS``).

    Only purchases count: guest rows, "C" invoices, returns (negative quantity), non-positive
    prices, non-product codes and exact duplicate rows are ignored. ``total_money_spent`` is the
    gross line amount, like the log's monetary feature; ``tran_with_disc`` counts invoices with
    any discounted line. ``data_pulled_date`` defaults to the day after the log's last row.
    """
    required = [CUSTOMER_ID, INVOICE_ID, INVOICE_DATE, QUANTITY, UNIT_PRICE, AMOUNT]
    required += [DISCOUNT, SIGNUP_DATE]
    missing = [c for c in required if c not in transactions.columns]
    if missing:
        raise SegmentationError(
            f"to_customer_summary needs columns {missing} in the transaction log, which has "
            f"{list(transactions.columns)}. Load the log with a loader that maps the source "
            "columns to the canonical names in src.schema."
        )
    if snapshot_date is None:
        snapshot_date = transactions[INVOICE_DATE].max().normalize() + pd.Timedelta(days=1)
    buys = transactions.loc[_purchase_mask(transactions)]
    invoices = buys.groupby([CUSTOMER_ID, INVOICE_ID], sort=False).agg(
        date=(INVOICE_DATE, "max"),
        spent=(AMOUNT, "sum"),
        discounted=(DISCOUNT, "max"),
        signup=(SIGNUP_DATE, "min"),
    )
    invoices["discounted"] = invoices["discounted"] > 0
    per_customer = invoices.groupby(level=CUSTOMER_ID).agg(
        **{
            TOTAL_TRANSACTION: ("spent", "size"),
            TOTAL_MONEY_SPENT: ("spent", "sum"),
            TRAN_WITH_DISC: ("discounted", "sum"),
            LAST_ORDER_DATE: ("date", "max"),
            CREATED_AT: ("signup", "min"),
        }
    )
    per_customer[DATA_PULLED_DATE] = pd.Timestamp(snapshot_date)
    summary = per_customer.rename_axis(USER_ID).reset_index()
    return summary[list(SUMMARY_COLUMNS)]

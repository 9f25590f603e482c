"""Tests for the seeded synthetic transaction log and its per-customer summary."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from src.columns import (
    AMOUNT,
    CUSTOMER_ID,
    DISCOUNT,
    INVOICE_DATE,
    INVOICE_ID,
    QUANTITY,
    SIGNUP_DATE,
    STOCK_CODE,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
)
from src.data.synthetic import (
    DEFAULT_SEGMENT_SHARES,
    NON_PRODUCT_CODES,
    SEGMENTS,
    SyntheticData,
    generate_transactions,
)
from src.errors import SegmentationError

N_CUSTOMERS = 3000


def as_pandas(data: SyntheticData) -> SyntheticData:
    """The generated log as pandas, for the pandas-side checks of these tests."""
    return replace(data, transactions=data.transactions.to_pandas())


@pytest.fixture(scope="module")
def generated() -> SyntheticData:
    return generate_transactions(N_CUSTOMERS, seed=7)


@pytest.fixture(scope="module")
def dirty(generated) -> SyntheticData:
    return as_pandas(generated)


@pytest.fixture(scope="module")
def clean() -> SyntheticData:
    return as_pandas(generate_transactions(1500, seed=7, dirty=False))


def is_cancellation(t: pd.DataFrame) -> pd.Series:
    return t[INVOICE_ID].str.startswith("C")


def clean_purchases(t: pd.DataFrame) -> pd.DataFrame:
    """Rows a cleaner keeps: known customer, real product, positive quantity and price."""
    keep = (
        t[CUSTOMER_ID].notna()
        & ~is_cancellation(t)
        & (t[QUANTITY] > 0)
        & (t[UNIT_PRICE] > 0)
        & ~t[STOCK_CODE].isin(list(NON_PRODUCT_CODES))
    )
    return t.loc[keep].drop_duplicates()


def lrfmc(data: SyntheticData) -> pd.DataFrame:
    """L, R, F, M, C per customer from clean rows, as defined for the planted segments."""
    rows = clean_purchases(data.transactions)
    invoices = rows.groupby([CUSTOMER_ID, INVOICE_ID]).agg(
        date=(INVOICE_DATE, "max"),
        spend=(AMOUNT, "sum"),
        discounted=(DISCOUNT, "max"),
        signup=(SIGNUP_DATE, "min"),
    )
    invoices["discounted"] = invoices["discounted"] > 0
    per = invoices.groupby(level=CUSTOMER_ID).agg(
        signup=("signup", "min"),
        last=("date", "max"),
        F=("spend", "size"),
        M=("spend", "sum"),
        C=("discounted", "mean"),
    )
    per["L"] = (data.snapshot_date - per.pop("signup")).dt.days
    per["R"] = (data.snapshot_date - per.pop("last")).dt.days
    return per[["L", "R", "F", "M", "C"]]


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_gives_identical_data() -> None:
    a, b = generate_transactions(400, seed=3), generate_transactions(400, seed=3)
    assert a.transactions.equals(b.transactions)
    pd.testing.assert_series_equal(a.labels, b.labels)
    assert a.snapshot_date == b.snapshot_date


def test_different_seeds_give_different_data() -> None:
    a, b = generate_transactions(400, seed=3), generate_transactions(400, seed=4)
    assert not a.transactions.equals(b.transactions)
    assert not a.labels.equals(b.labels)


# --- schema ----------------------------------------------------------------------------------


def test_columns_are_the_canonical_transaction_columns(generated: SyntheticData) -> None:
    assert list(generated.transactions.columns) == list(TRANSACTION_COLUMNS)


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        (CUSTOMER_ID, pl.String),
        (INVOICE_ID, pl.String),
        (STOCK_CODE, pl.String),
        ("description", pl.String),
        ("country", pl.String),
        (QUANTITY, pl.Float64),
        (UNIT_PRICE, pl.Float64),
        (AMOUNT, pl.Float64),
        (DISCOUNT, pl.Float64),
        (INVOICE_DATE, pl.Datetime("us")),
        (SIGNUP_DATE, pl.Datetime("us")),
    ],
)
def test_columns_have_the_canonical_dtypes(generated: SyntheticData, column, dtype) -> None:
    assert generated.transactions.schema[column] == dtype


def test_customer_ids_look_like_c_and_digits(dirty: SyntheticData) -> None:
    ids = dirty.transactions[CUSTOMER_ID].dropna()
    assert ids.str.fullmatch(r"C\d{6}").all()


def test_invoice_ids_are_numbers_with_optional_c_prefix(dirty: SyntheticData) -> None:
    assert dirty.transactions[INVOICE_ID].str.fullmatch(r"C?\d{6,}").all()


def test_amount_is_quantity_times_unit_price(dirty: SyntheticData) -> None:
    t = dirty.transactions
    np.testing.assert_allclose(t[AMOUNT], t[QUANTITY] * t[UNIT_PRICE])


def test_discount_is_never_negative(dirty: SyntheticData) -> None:
    assert (dirty.transactions[DISCOUNT] >= 0).all()


def test_discount_applies_to_every_line_of_an_order(clean: SyntheticData) -> None:
    lines = clean.transactions.loc[clean.transactions[AMOUNT] >= 1]
    discounted = (lines[DISCOUNT] > 0).groupby(lines[INVOICE_ID])
    assert (discounted.all() == discounted.any()).all()
    assert discounted.any().any()


def test_discount_is_a_fraction_of_the_line_amount(clean: SyntheticData) -> None:
    t = clean.transactions
    assert (t[DISCOUNT] <= t[AMOUNT]).all()


def test_quantities_are_mostly_small_with_a_heavy_tail(clean: SyntheticData) -> None:
    q = clean.transactions[QUANTITY]
    assert (q == q.round()).all()
    assert q.median() <= 12
    assert q.max() >= 20 * q.median()


def test_invoice_dates_fall_within_opening_hours(dirty: SyntheticData) -> None:
    hours = dirty.transactions[INVOICE_DATE].dt.hour
    assert hours.between(7, 19).all()


@pytest.mark.parametrize(
    ("start", "end"), [("2023-01-01", "2024-12-31"), ("2022-03-01", "2023-02-28")]
)
def test_invoice_dates_stay_inside_the_window(start: str, end: str) -> None:
    data = generate_transactions(300, seed=1, start=start, end=end)
    dates = data.transactions.to_pandas()[INVOICE_DATE]
    assert dates.min() >= pd.Timestamp(start)
    assert dates.max() < pd.Timestamp(end) + pd.Timedelta(days=1)


def test_snapshot_is_the_day_after_the_last_transaction(dirty: SyntheticData) -> None:
    last = dirty.transactions[INVOICE_DATE].max()
    assert dirty.snapshot_date == last.normalize() + pd.Timedelta(days=1)


def test_november_is_busier_than_early_year(dirty: SyntheticData) -> None:
    dates = dirty.transactions.drop_duplicates(INVOICE_ID)[INVOICE_DATE]
    per_month = dates.dt.to_period("M").value_counts()
    november = per_month[per_month.index.month == 11].mean()
    january_february = per_month[per_month.index.month.isin([1, 2])].mean()
    assert november > 1.5 * january_february


def test_weekends_are_quieter_than_weekdays(dirty: SyntheticData) -> None:
    weekday = dirty.transactions.drop_duplicates(INVOICE_ID)[INVOICE_DATE].dt.day_of_week
    counts = weekday.value_counts()
    assert counts[5] < 0.7 * counts[[0, 1, 2, 3]].mean()


def test_most_customers_live_in_one_home_country(dirty: SyntheticData) -> None:
    shares = dirty.transactions["country"].value_counts(normalize=True)
    assert 0.7 < shares.iloc[0] < 0.95
    assert len(shares) >= 5


# --- dirt ------------------------------------------------------------------------------------

DIRT = {
    "missing customer id": lambda t: t[CUSTOMER_ID].isna(),
    "cancellation": is_cancellation,
    "return": lambda t: (t[QUANTITY] < 0) & ~is_cancellation(t),
    "non-positive price": lambda t: t[UNIT_PRICE] <= 0,
    "exact duplicate": lambda t: t.duplicated(),
    "non-product code": lambda t: t[STOCK_CODE].isin(list(NON_PRODUCT_CODES)),
}


@pytest.mark.parametrize("kind", DIRT)
def test_dirty_log_has_a_few_percent_of_each_dirt(dirty: SyntheticData, kind: str) -> None:
    share = DIRT[kind](dirty.transactions).mean()
    assert 0.002 < share < 0.06


@pytest.mark.parametrize("kind", DIRT)
def test_clean_log_has_no_dirt(clean: SyntheticData, kind: str) -> None:
    assert not DIRT[kind](clean.transactions).any()


def test_cancellations_have_negative_quantities(dirty: SyntheticData) -> None:
    t = dirty.transactions
    assert (t.loc[is_cancellation(t), QUANTITY] < 0).all()


def test_cancellations_mirror_an_earlier_purchase_line(dirty: SyntheticData) -> None:
    t = dirty.transactions
    keys = [CUSTOMER_ID, STOCK_CODE, UNIT_PRICE]
    cancels = t.loc[is_cancellation(t), [*keys, QUANTITY, INVOICE_DATE]]
    buys = t.loc[~is_cancellation(t) & (t[QUANTITY] > 0), [*keys, QUANTITY, INVOICE_DATE]]
    cancels = cancels.assign(**{QUANTITY: -cancels[QUANTITY]}).reset_index()
    matched = cancels.merge(buys, on=[*keys, QUANTITY], suffixes=("", "_buy"))
    matched = matched.loc[matched[f"{INVOICE_DATE}_buy"] <= matched[INVOICE_DATE]]
    assert matched["index"].nunique() == len(cancels)


def test_returns_give_back_part_of_an_earlier_purchase(dirty: SyntheticData) -> None:
    t = dirty.transactions
    keys = [CUSTOMER_ID, STOCK_CODE]
    returns = t.loc[(t[QUANTITY] < 0) & ~is_cancellation(t)].reset_index()
    buys = t.loc[~is_cancellation(t) & (t[QUANTITY] > 0), [*keys, QUANTITY, INVOICE_DATE]]
    matched = returns.merge(buys, on=keys, suffixes=("", "_buy"))
    fits = (matched[f"{QUANTITY}_buy"] >= -matched[QUANTITY]) & (
        matched[f"{INVOICE_DATE}_buy"] <= matched[INVOICE_DATE]
    )
    assert matched.loc[fits, "index"].nunique() == len(returns)


def test_every_labelled_customer_keeps_a_valid_purchase(dirty: SyntheticData) -> None:
    buyers = set(clean_purchases(dirty.transactions)[CUSTOMER_ID])
    assert buyers == set(dirty.labels.index)


def test_reversals_only_hit_customers_with_orders_between_first_and_last(
    dirty: SyntheticData,
) -> None:
    """Reversed lines come from interior orders, so R and tenure survive any netting."""
    t = dirty.transactions
    reversing = set(t.loc[t[QUANTITY] < 0, CUSTOMER_ID].dropna())
    orders = clean_purchases(t).groupby(CUSTOMER_ID)[INVOICE_ID].nunique()
    assert reversing
    assert (orders[sorted(reversing)] >= 3).all()


# --- labels ----------------------------------------------------------------------------------


def test_labels_cover_exactly_the_customers_in_the_log(dirty: SyntheticData) -> None:
    customers = set(dirty.transactions[CUSTOMER_ID].dropna())
    assert set(dirty.labels.index) == customers
    assert dirty.labels.index.is_unique


def test_labels_are_named_and_indexed_by_customer_id(dirty: SyntheticData) -> None:
    assert dirty.labels.name == "segment"
    assert dirty.labels.index.name == CUSTOMER_ID


def test_default_shares_are_honoured(dirty: SyntheticData) -> None:
    shares = dirty.labels.value_counts(normalize=True)
    expected = pd.Series(DEFAULT_SEGMENT_SHARES)
    pd.testing.assert_series_equal(
        shares.reindex(expected.index), expected, check_names=False, atol=1 / N_CUSTOMERS
    )


@pytest.mark.parametrize(
    "shares",
    [
        {"champions": 1, "new": 1},
        {"loyal": 0.7, "hibernating": 0.2, "discount_hunters": 0.1},
        dict.fromkeys(SEGMENTS, 2.0),
    ],
)
def test_custom_shares_are_normalised_and_honoured(shares: dict[str, float]) -> None:
    labels = generate_transactions(600, seed=2, segment_shares=shares).labels
    total = sum(shares.values())
    got = labels.value_counts(normalize=True)
    for name in SEGMENTS:
        assert got.get(name, 0.0) == pytest.approx(shares.get(name, 0) / total, abs=1 / 600)


def test_all_segments_are_planted_by_default(dirty: SyntheticData) -> None:
    assert set(dirty.labels.astype(str)) == set(SEGMENTS)


def test_signup_is_on_or_before_first_purchase(dirty: SyntheticData) -> None:
    rows = dirty.transactions.dropna(subset=[CUSTOMER_ID])
    per = rows.groupby(CUSTOMER_ID).agg(first=(INVOICE_DATE, "min"), signup=(SIGNUP_DATE, "min"))
    assert (per["signup"] <= per["first"]).all()


def test_each_customer_has_one_signup_date(dirty: SyntheticData) -> None:
    rows = dirty.transactions.dropna(subset=[CUSTOMER_ID])
    assert (rows.groupby(CUSTOMER_ID)[SIGNUP_DATE].nunique() == 1).all()


# --- planted behaviour -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def features(dirty: SyntheticData) -> pd.DataFrame:
    f = lrfmc(dirty)
    return f.assign(segment=dirty.labels.reindex(f.index).astype(str))


@pytest.mark.parametrize(
    ("feature", "low", "high"),
    [
        ("L", "new", "loyal"),
        ("R", "champions", "at_risk"),
        ("R", "at_risk", "hibernating"),
        ("F", "hibernating", "at_risk"),
        ("F", "loyal", "champions"),
        ("M", "loyal", "champions"),
        ("M", "hibernating", "loyal"),
        ("C", "loyal", "discount_hunters"),
    ],
)
def test_segments_differ_in_lrfmc(
    features: pd.DataFrame, feature: str, low: str, high: str
) -> None:
    medians = features.groupby("segment")[feature].median()
    assert medians[low] < medians[high]


def test_new_customers_have_one_to_three_orders(features: pd.DataFrame) -> None:
    assert features.loc[features["segment"] == "new", "F"].between(1, 3).all()


def test_spend_is_heavy_tailed_within_segments(features: pd.DataFrame) -> None:
    spend = features.groupby("segment")["M"]
    assert (spend.mean() > spend.median()).all()


def test_segments_prefer_different_products(dirty: SyntheticData) -> None:
    rows = clean_purchases(dirty.transactions)
    rows = rows.assign(segment=rows[CUSTOMER_ID].map(dirty.labels).astype(str))

    def shares(part: pd.DataFrame) -> pd.Series:
        return part[STOCK_CODE].value_counts(normalize=True)

    def distance(a: pd.DataFrame, b: pd.DataFrame) -> float:
        return shares(a).sub(shares(b), fill_value=0).abs().sum() / 2

    champions = rows.loc[rows["segment"] == "champions"]
    hunters = rows.loc[rows["segment"] == "discount_hunters"]
    halves = champions[INVOICE_ID].str[-1].astype(int) % 2 == 0
    assert distance(champions, hunters) > 2 * distance(champions[halves], champions[~halves])


def test_kmeans_recovers_planted_segments() -> None:
    data = as_pandas(generate_transactions(4000, seed=11))
    f = lrfmc(data)
    x = StandardScaler().fit_transform(np.log1p(f))
    found = KMeans(n_clusters=6, n_init=10, random_state=0).fit_predict(x)
    assert adjusted_rand_score(data.labels.reindex(f.index), found) >= 0.95


# --- input validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_customers": 0},
        {"n_customers": 2.5},
        {"segment_shares": {"whales": 1.0}},
        {"segment_shares": {"champions": -1.0, "new": 2.0}},
        {"segment_shares": {"champions": 0.0}},
        {"start": "not a date"},
        {"start": "2024-01-01", "end": "2024-01-10"},
    ],
)
def test_bad_arguments_raise_segmentation_error(kwargs: dict) -> None:
    with pytest.raises(SegmentationError):
        generate_transactions(**{"n_customers": 50, **kwargs})


def test_a_single_customer_is_supported() -> None:
    data = as_pandas(generate_transactions(1, seed=0))
    assert len(data.labels) == 1
    assert len(clean_purchases(data.transactions)) >= 1

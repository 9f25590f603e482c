"""Playbook lookup, per-segment product picks (share, lift, revenue) and per-customer picks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from src.columns import AMOUNT, CUSTOMER_ID, DESCRIPTION, IS_RETURN, QUANTITY, STOCK_CODE
from src.errors import SegmentationError
from src.insight.naming import load_insight_config
from src.insight.recommend import (
    NoProductData,
    customer_recommendations,
    playbook_actions,
    popular_overall,
    segment_top_products,
)

# (customer, product, quantity, amount). Segment A: c1, c2, c5 (no purchases); B: c3, c4.
LINES = [
    ("c1", "P1", 1.0, 10.0),
    ("c1", "P1", 2.0, 20.0),  # repeat purchase: one buyer, revenue adds up
    ("c1", "P2", 1.0, 5.0),
    ("c2", "P1", 1.0, 10.0),
    ("c3", "P1", 1.0, 10.0),
    ("c3", "P3", 4.0, 8.0),
    ("c4", "P3", 1.0, 2.0),
    ("c4", "P4", 1.0, 3.0),
]
NAMES = {"P1": "Mug", "P2": "Plate", "P3": "Candle", "P4": "Lamp"}


@pytest.fixture
def tx() -> pl.DataFrame:
    frame = pd.DataFrame(LINES, columns=[CUSTOMER_ID, STOCK_CODE, QUANTITY, AMOUNT])
    frame[DESCRIPTION] = frame[STOCK_CODE].map(NAMES)
    return pl.from_pandas(frame)


@pytest.fixture
def segments() -> pd.Series:
    return pd.Series(
        {"c1": "A", "c2": "A", "c5": "A", "c3": "B", "c4": "B"}, name="segment"
    ).rename_axis(CUSTOMER_ID)


def _row(table: pd.DataFrame, segment: str, product: str) -> pd.Series:
    match = table[(table["segment"] == segment) & (table[STOCK_CODE] == product)]
    assert len(match) == 1
    return match.iloc[0]


@pytest.mark.parametrize(
    ("segment", "product", "share", "pop_share", "revenue"),
    [
        ("A", "P1", 2 / 3, 3 / 5, 40.0),
        ("A", "P2", 1 / 3, 1 / 5, 5.0),
        ("B", "P1", 1 / 2, 3 / 5, 10.0),
        ("B", "P3", 2 / 2, 2 / 5, 10.0),
    ],
)
def test_share_lift_and_revenue(tx, segments, segment, product, share, pop_share, revenue):
    row = _row(segment_top_products(tx, segments, min_support=0), segment, product)
    assert row["customer_share"] == pytest.approx(share)
    assert row["population_share"] == pytest.approx(pop_share)
    assert row["lift"] == pytest.approx(share / pop_share)
    assert row["revenue"] == pytest.approx(revenue)


def test_products_ranked_by_lift(tx, segments):
    top = segment_top_products(tx, segments, min_support=0)
    b = top[top["segment"] == "B"]
    assert b["rank"].tolist() == list(range(1, len(b) + 1))
    assert b["lift"].is_monotonic_decreasing


def test_a_product_everyone_buys_is_not_a_segment_pick(tx, segments):
    # P1 is the most popular product and half of B buys it, but B buys it less than average
    # (lift 5/6): it comes after what B over-indexes on.
    b = segment_top_products(tx, segments, min_support=0).query("segment == 'B'")
    # P3 and P4 tie on lift (2.5); P3 is bought by more of B.
    assert b[STOCK_CODE].tolist() == ["P3", "P4", "P1"]


def test_equal_lift_ties_broken_by_customer_share():
    lines = [("c1", "P1"), ("c2", "P1"), ("c1", "P2"), ("c3", "P3")]
    tx = pl.DataFrame(lines, schema=[CUSTOMER_ID, STOCK_CODE], orient="row")
    segments = pd.Series({"c1": "A", "c2": "A", "c3": "B"}).rename_axis(CUSTOMER_ID)
    a = segment_top_products(tx, segments, min_support=0).query("segment == 'A'")
    # P1 and P2 are bought only by A (lift 1.5 each); P1 by more of A.
    assert a[STOCK_CODE].tolist() == ["P1", "P2"]


def test_popular_overall_ranks_products_by_buyers(tx, segments):
    top = popular_overall(tx, segments, top_n=2)
    assert top[STOCK_CODE].tolist() == ["P1", "P3"]
    assert top["population_share"].tolist() == pytest.approx([3 / 5, 2 / 5])
    assert top[DESCRIPTION].tolist() == ["Mug", "Candle"]


def test_min_support_and_top_n(tx, segments):
    top = segment_top_products(tx, segments, top_n=1, min_support=0.6)
    assert top[["segment", STOCK_CODE]].values.tolist() == [["A", "P1"], ["B", "P3"]]


def test_descriptions_attached(tx, segments):
    top = segment_top_products(tx, segments, min_support=0)
    assert (top[DESCRIPTION] == top[STOCK_CODE].map(NAMES)).all()


def test_returns_are_ignored(tx, segments):
    extra = pd.DataFrame(
        [("c2", "P2", -1.0, -5.0, "Plate", True), ("c2", "P4", 1.0, 3.0, "Lamp", True)],
        columns=[CUSTOMER_ID, STOCK_CODE, QUANTITY, AMOUNT, DESCRIPTION, IS_RETURN],
    )
    with_returns = pl.concat(
        [tx.with_columns(pl.lit(False).alias(IS_RETURN)), pl.from_pandas(extra)], how="diagonal"
    )
    pd.testing.assert_frame_equal(
        segment_top_products(with_returns, segments, min_support=0),
        segment_top_products(tx, segments, min_support=0),
    )


def test_customer_recs_exclude_already_bought(tx, segments):
    recs = customer_recommendations(tx, segments, top_n=5)
    bought = set(zip(tx[CUSTOMER_ID].to_list(), tx[STOCK_CODE].to_list(), strict=True))
    assert not {(c, p) for c, p in zip(recs[CUSTOMER_ID], recs[STOCK_CODE], strict=True)} & bought


def test_customer_recs_follow_the_segment_picks(tx, segments):
    recs = customer_recommendations(tx, segments, top_n=5).set_index(CUSTOMER_ID)
    assert recs.loc[["c2"], STOCK_CODE].tolist() == ["P2"]  # P1 already bought
    assert recs.loc[["c3"], STOCK_CODE].tolist() == ["P4"]
    # No purchases yet: A's picks by lift, P2 (lift 5/3) before P1 (lift 10/9).
    assert recs.loc[["c5"], STOCK_CODE].tolist() == ["P2", "P1"]


def test_customer_recs_respect_top_n(tx, segments):
    recs = customer_recommendations(tx, segments, top_n=1)
    assert recs.groupby(CUSTOMER_ID).size().max() == 1
    assert (recs["rank"] == 1).all()


def test_customer_recs_from_given_candidates(tx, segments):
    candidates = pd.DataFrame(
        {
            "segment": ["A", "A"],
            "rank": [1, 2],
            STOCK_CODE: ["P1", "P9"],
            "customer_share": [0.9, 0.1],
        }
    )
    recs = customer_recommendations(tx, segments, candidates=candidates)
    assert set(recs["segment"]) == {"A"}
    assert recs.set_index(CUSTOMER_ID).loc[["c1"], STOCK_CODE].tolist() == ["P9"]
    assert recs.set_index(CUSTOMER_ID).loc[["c5"], STOCK_CODE].tolist() == ["P1", "P9"]


def test_customer_recs_scale_vectorised():
    rng = np.random.default_rng(0)
    n_customers, n_lines = 5_000, 50_000
    customers = np.array([f"C{i:05d}" for i in range(n_customers)])
    products = np.array([f"P{i:03d}" for i in range(300)])
    weights = 1 / np.arange(1, 301)
    tx = pd.DataFrame(
        {
            CUSTOMER_ID: customers[rng.integers(0, n_customers, n_lines)],
            STOCK_CODE: products[rng.choice(300, n_lines, p=weights / weights.sum())],
            QUANTITY: 1.0,
            AMOUNT: 2.0,
        }
    )
    segments = pd.Series(rng.integers(0, 6, n_customers), index=customers)
    recs = customer_recommendations(pl.from_pandas(tx), segments, top_n=5)
    merged = recs.merge(tx, on=[CUSTOMER_ID, STOCK_CODE], how="inner")
    assert merged.empty
    assert recs.groupby(CUSTOMER_ID).size().eq(5).all()
    assert recs[CUSTOMER_ID].nunique() == n_customers


@pytest.mark.parametrize("drop", ["no log", "no stock_code"])
def test_no_product_data(tx, segments, drop):
    log = None if drop == "no log" else tx.drop(STOCK_CODE)
    with pytest.raises(NoProductData, match="stock_code"):
        segment_top_products(log, segments)
    with pytest.raises(SegmentationError):
        customer_recommendations(log, segments)


def test_bad_candidates_table(tx, segments):
    with pytest.raises(SegmentationError, match="customer_share"):
        customer_recommendations(
            tx,
            segments,
            candidates=pd.DataFrame({"segment": ["A"], "rank": [1], STOCK_CODE: ["P1"]}),
        )


PLAYBOOK = {"Loyal": ["Upsell", "Invite"], "Lost": ["Win back"], "default": ["Newsletter"]}


@pytest.mark.parametrize(
    ("name", "actions", "entry"),
    [
        ("Loyal", ("Upsell", "Invite"), "Loyal"),
        ("Loyal (higher spend)", ("Upsell", "Invite"), "Loyal"),
        ("Loyal 2", ("Upsell", "Invite"), "Loyal"),
        ("lost", ("Win back",), "Lost"),
        ("Mystery shoppers", ("Newsletter",), "default"),
    ],
)
def test_playbook_lookup(name, actions, entry):
    table = playbook_actions({3: name}, PLAYBOOK)
    assert table.loc[3, "actions"] == actions
    assert table.loc[3, "playbook_entry"] == entry
    assert table.loc[3, "segment_name"] == name


def test_playbook_without_default_gives_no_actions():
    table = playbook_actions({0: "Mystery"}, {"Loyal": ["Upsell"]})
    assert table.loc[0, "actions"] == ()


def test_playbook_accepts_whole_insight_config():
    cfg = load_insight_config()
    table = playbook_actions({0: "Champions", 1: "Nobody"}, cfg)
    assert table.loc[0, "actions"] == tuple(cfg["playbook"]["Champions"])
    assert table.loc[1, "actions"] == tuple(cfg["playbook"]["default"])


def test_bad_playbook_entry_is_named():
    with pytest.raises(SegmentationError, match="'Loyal'"):
        playbook_actions({0: "Loyal"}, {"Loyal": {"upsell": True}})


def test_the_tables_from_shared_product_lines_equal_those_from_the_log(tx, segments):
    from src.insight.recommend import product_lines

    lines = product_lines(tx, segments)
    pd.testing.assert_frame_equal(
        segment_top_products(lines, segments, min_support=0.0),
        segment_top_products(tx, segments, min_support=0.0),
    )
    pd.testing.assert_frame_equal(popular_overall(lines, segments), popular_overall(tx, segments))
    pd.testing.assert_frame_equal(
        customer_recommendations(lines, segments, top_n=2),
        customer_recommendations(tx, segments, top_n=2),
    )

"""Plain rules per segment from a shallow decision tree, with honest precision and coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.columns import FREQUENCY, MONETARY, RECENCY
from src.insight.rules import Bound, segment_rules


@pytest.fixture(scope="module")
def customers() -> tuple[pd.DataFrame, np.ndarray]:
    """Three groups a person would describe with one or two thresholds."""
    rng = np.random.default_rng(0)
    n = 300
    recency = np.concatenate(
        [rng.integers(0, 30, n), rng.integers(0, 30, n), rng.integers(200, 365, n)]
    )
    frequency = np.concatenate(
        [rng.integers(10, 40, n), rng.integers(1, 4, n), rng.integers(1, 4, n)]
    )
    monetary = frequency * rng.lognormal(4, 0.3, 3 * n)
    features = pd.DataFrame(
        {RECENCY: recency.astype(float), FREQUENCY: frequency.astype(float), MONETARY: monetary}
    )
    return features, np.repeat([0, 1, 2], n)


NAMES = {0: "Champions", 1: "New customers", 2: "Lost"}


@pytest.fixture(scope="module")
def rules(customers) -> pd.DataFrame:
    features, labels = customers
    return segment_rules(features, labels, NAMES)


def test_every_segment_gets_a_rule_in_words(rules):
    assert list(rules.index) == [0, 1, 2]
    assert rules["segment_name"].tolist() == list(NAMES.values())
    assert rules["rule"].str.len().gt(0).all()


def test_clean_groups_get_precise_rules_with_full_coverage(rules):
    assert (rules["precision"] > 0.95).all()
    assert (rules["coverage"] > 0.95).all()


def test_whole_number_features_read_as_whole_numbers(rules):
    assert "recency >= " in rules.loc[2, "rule"] and " days" in rules.loc[2, "rule"]
    assert ".5" not in rules.loc[2, "rule"]


def test_precision_and_coverage_are_measured_on_the_rule_as_written(customers, rules):
    features, labels = customers
    text = rules.loc[2, "rule"]
    threshold = int(text.split("recency >= ")[1].split(" ")[0])
    picked = features[RECENCY] >= threshold
    assert rules.loc[2, "customers_matched"] == picked.sum()
    assert rules.loc[2, "precision"] == pytest.approx((labels[picked] == 2).mean())


def test_an_inseparable_segment_still_gets_its_best_rule_with_low_precision():
    rng = np.random.default_rng(1)
    features = pd.DataFrame({RECENCY: rng.integers(0, 100, 400).astype(float)})
    labels = rng.integers(0, 2, 400)
    rules = segment_rules(features, labels, {0: "A", 1: "B"})
    assert (rules["precision"] < 0.8).all()


@pytest.mark.parametrize(
    ("bound", "text"),
    [
        (Bound(RECENCY, high=30.5), "recency <= 30 days"),
        (Bound(FREQUENCY, low=9.5), "orders >= 10"),
        (Bound(FREQUENCY, low=2.5, high=9.5), "orders 3 to 9"),
        (Bound(FREQUENCY, low=3.5, high=4.5), "orders 4"),
        (Bound(MONETARY, low=250.0), "spend > 250"),
    ],
)
def test_bounds_read_as_a_person_would_type_them(bound, text):
    assert bound.text() == text


def test_sibling_leaves_are_merged_into_one_rule():
    from src.insight.rules import _merge_adjacent

    rest = [Bound(RECENCY, high=14.5), Bound(FREQUENCY, low=12.5)]
    paths = [[*rest, Bound(MONETARY, low=4700.0)], [*rest, Bound(MONETARY, high=4700.0)]]
    assert _merge_adjacent(paths) == [rest]

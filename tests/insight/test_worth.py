"""Segment worth: revenue share, average order value and customers per segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.columns import FREQUENCY, MONETARY, RECENCY
from src.errors import SegmentationError
from src.insight.worth import segment_worth, worth_sentence


@pytest.fixture
def features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            RECENCY: [5.0, 10.0, 200.0, 300.0, 250.0],
            FREQUENCY: [10.0, 20.0, 1.0, 2.0, 1.0],
            MONETARY: [1000.0, 3000.0, 50.0, 100.0, 50.0],
        }
    )


LABELS = np.array([0, 0, 1, 1, 1])


def test_revenue_shares_add_up_and_follow_spend(features):
    worth = segment_worth(features, LABELS)
    assert worth["revenue_share"].sum() == pytest.approx(1.0)
    assert worth.loc[0, "revenue_share"] == pytest.approx(4000 / 4200)
    assert worth.loc[1, "n_customers"] == 3


def test_average_order_value_is_revenue_over_orders(features):
    worth = segment_worth(features, LABELS)
    assert worth.loc[0, "avg_order_value"] == pytest.approx(4000 / 30)
    assert worth.loc[1, "revenue_per_customer"] == pytest.approx(200 / 3)


def test_mean_order_value_features_are_turned_into_revenue(features):
    total = segment_worth(features.assign(**{MONETARY: features[MONETARY]}), LABELS)
    per_order = features.assign(**{MONETARY: features[MONETARY] / features[FREQUENCY]})
    mean = segment_worth(per_order, LABELS, monetary="mean")
    pd.testing.assert_frame_equal(total, mean)


def test_the_headline_names_the_segment_that_over_indexes_on_revenue(features):
    worth = segment_worth(features, LABELS)
    text = worth_sentence(worth, {0: "Champions", 1: "Lost"})
    assert text == "Champions are 40% of customers and bring 95% of revenue."


def test_worth_needs_spend_and_orders(features):
    with pytest.raises(SegmentationError, match="frequency"):
        segment_worth(features.drop(columns=FREQUENCY), LABELS)

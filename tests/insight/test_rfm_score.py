"""Classic RFM quintile scores: tie handling, recency inversion, the named R x FM grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.columns import FREQUENCY, MONETARY, RECENCY
from src.errors import SegmentationError
from src.insight.rfm_score import SCORE_SEGMENTS, rfm_scores, score_crosstab


def make_features(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Retail-like RFM table: most customers have one or two orders (heavy ties)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            RECENCY: rng.integers(0, 365, n).astype(float),
            FREQUENCY: (1 + rng.negative_binomial(1, 0.6, n)).astype(float),
            MONETARY: rng.lognormal(5, 1, n).round(2),
        },
        index=pd.Index([f"C{i:04d}" for i in range(n)], name="customer_id"),
    )


@pytest.mark.parametrize("column", ["r_score", "f_score", "m_score"])
def test_every_score_present_and_bins_equal_sized(column):
    counts = rfm_scores(make_features())[column].value_counts()
    assert sorted(counts.index) == [1, 2, 3, 4, 5]
    assert counts.max() - counts.min() <= 1


def test_heavy_ties_still_give_five_frequency_bins():
    features = make_features()
    features[FREQUENCY] = 1.0
    features.iloc[:10, features.columns.get_loc(FREQUENCY)] = 7.0
    scores = rfm_scores(features)
    assert set(scores["f_score"]) == {1, 2, 3, 4, 5}
    assert (scores.loc[features.index[:10], "f_score"] == 5).all()


def test_scores_do_not_depend_on_row_order():
    features = make_features()
    shuffled = features.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(rfm_scores(shuffled).loc[features.index], rfm_scores(features))


def test_ties_are_split_by_customer_id():
    features = make_features(10)
    features[FREQUENCY] = 1.0
    scores = rfm_scores(features, n_bins=5)["f_score"]
    assert scores.is_monotonic_increasing


def test_recency_is_inverted():
    features = make_features()
    scores = rfm_scores(features)
    assert scores.loc[features[RECENCY].idxmin(), "r_score"] == 5
    assert scores.loc[features[RECENCY].idxmax(), "r_score"] == 1


@pytest.mark.parametrize(("feature", "score"), [(FREQUENCY, "f_score"), (MONETARY, "m_score")])
def test_higher_value_never_scores_lower(feature, score):
    features = make_features()
    scores = rfm_scores(features)
    ordered = scores.loc[features.sort_values(feature, kind="stable").index, score]
    assert ordered.is_monotonic_increasing


def test_cell_and_total_agree_with_scores():
    scores = rfm_scores(make_features())
    expected_cell = (
        scores["r_score"].astype(str)
        + scores["f_score"].astype(str)
        + scores["m_score"].astype(str)
    )
    assert (scores["rfm_cell"] == expected_cell).all()
    assert (scores["rfm_score"] == scores[["r_score", "f_score", "m_score"]].sum(axis=1)).all()


def _five_customers_with(r: int, f: int, m: int) -> pd.DataFrame:
    """Five customers with distinct values; customer "X" gets exactly the scores (r, f, m)."""

    def values(score: int) -> list[int]:
        return [score, *[s for s in range(1, 6) if s != score]]

    return pd.DataFrame(
        {
            RECENCY: [6.0 - s for s in values(r)],
            FREQUENCY: [float(s) for s in values(f)],
            MONETARY: [10.0 * s for s in values(m)],
        },
        index=pd.Index(["X", "a", "b", "c", "d"], name="customer_id"),
    )


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, "Champions"),
        (5, 4, 5, "Champions"),
        (4, 5, 4, "Loyal Customers"),
        (3, 4, 5, "Loyal Customers"),
        (5, 3, 2, "Potential Loyalists"),
        (5, 1, 1, "New Customers"),
        (4, 1, 1, "Promising"),
        (3, 3, 3, "Need Attention"),
        (3, 1, 2, "About to Sleep"),
        (2, 3, 4, "At Risk"),
        (1, 5, 5, "Can't Lose Them"),
        (2, 2, 1, "Hibernating"),
        (1, 1, 1, "Lost"),
    ],
)
def test_score_segment_grid(r, f, m, segment):
    scores = rfm_scores(_five_customers_with(r, f, m)).loc["X"]
    assert (scores["r_score"], scores["f_score"], scores["m_score"]) == (r, f, m)
    assert scores["score_segment"] == segment


@pytest.mark.parametrize("n_bins", [3, 4, 10])
def test_other_bin_counts(n_bins):
    scores = rfm_scores(make_features(), n_bins=n_bins)
    assert set(scores["r_score"]) == set(range(1, n_bins + 1))
    assert set(scores["score_segment"]) <= set(SCORE_SEGMENTS)


@pytest.mark.parametrize("n_bins", [1, 0, 2.5])
def test_bad_bin_count(n_bins):
    with pytest.raises(SegmentationError, match="n_bins"):
        rfm_scores(make_features(), n_bins=n_bins)


def test_missing_column_is_named():
    with pytest.raises(SegmentationError, match=MONETARY):
        rfm_scores(make_features().drop(columns=MONETARY))


def test_missing_values_are_rejected():
    features = make_features()
    features.iloc[3, 0] = np.nan
    with pytest.raises(SegmentationError, match=RECENCY):
        rfm_scores(features)


def test_crosstab_counts_and_margins():
    features = make_features()
    scores = rfm_scores(features)
    names = pd.Series(
        np.where(features[MONETARY] > features[MONETARY].median(), "Big", "Small"),
        index=features.index,
    )
    table = score_crosstab(names.sample(frac=1.0, random_state=0), scores["score_segment"])
    assert table.loc["Total", "Total"] == len(features)
    assert table.loc["Big", "Total"] == (names == "Big").sum()
    inner = table.drop(index="Total", columns="Total")
    assert (inner.sum(axis=1) == table["Total"].drop("Total")).all()
    present = [c for c in SCORE_SEGMENTS if c in inner.columns]
    assert list(inner.columns) == present


def test_crosstab_ignores_customers_missing_from_either_side():
    features = make_features(50)
    scores = rfm_scores(features)["score_segment"]
    names = pd.Series("All", index=features.index[:30])
    assert score_crosstab(names, scores).loc["Total", "Total"] == 30

"""The classic RFM-score baseline, reported beside the clustering.

Every customer gets an R, F and M score from 1 to ``n_bins`` (quintiles by default): customers are
ranked on the feature and cut into equal-count bins. Recency is inverted so that the most recent
buyers score highest. Ties are split deterministically: a stable sort on (value, customer_id)
gives every customer a distinct rank, then the ranks are cut. This keeps all bins populated even
when most customers share a value (e.g. thousands with a single order), at the price that equal
values can land in neighbouring bins (ordered by customer id). The result does not depend on the
row order of the input.

Named score segments come from the widely used R x FM grid, where FM is the mean of the F and M
scores rounded half up (``(F + M + 1) // 2``):

======  ===============  ===================  ===================  ===============  ===============
R \\ FM  1                2                    3                    4                5
======  ===============  ===================  ===================  ===============  ===============
5       New Customers    Potential Loyalists  Potential Loyalists  Champions        Champions
4       Promising        Potential Loyalists  Potential Loyalists  Loyal Customers  Loyal Customers
3       About to Sleep   About to Sleep       Need Attention       Loyal Customers  Loyal Customers
2       Hibernating      Hibernating          At Risk              At Risk          Can't Lose Them
1       Lost             Lost                 At Risk              At Risk          Can't Lose Them
======  ===============  ===================  ===================  ===============  ===============

With ``n_bins`` other than 5 the scores are mapped onto this 1..5 grid (``ceil(score * 5 / n_bins)``)
before the lookup.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from src.columns import CUSTOMER_ID, FREQUENCY, MONETARY, RECENCY, SEGMENT_NAME
from src.errors import SegmentationError

# R score -> segment per FM score 1..5.
SCORE_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),
    4: (
        "Promising",
        "Potential Loyalists",
        "Potential Loyalists",
        "Loyal Customers",
        "Loyal Customers",
    ),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"),
}
# Display order, best to worst.
SCORE_SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)
SCORE_SEGMENT = "score_segment"


def _bin_scores(values: pd.Series, n_bins: int) -> np.ndarray:
    """Equal-count bins 1..n_bins of the (value, customer_id) rank, lowest values in bin 1."""
    n = len(values)
    # polars sorts the (value, id) pairs: pandas' sort on a million string ids took ~9 s.
    order = (
        pl.DataFrame({"value": values.to_numpy(), "id": values.index.to_numpy()})
        .with_row_index("row")
        .sort(["value", "id"], maintain_order=True)
        .get_column("row")
        .to_numpy()
    )
    bins = np.empty(n, dtype=np.int64)
    bins[order] = np.arange(n) * n_bins // max(n, 1) + 1
    return bins


def rfm_scores(features: pd.DataFrame, n_bins: int = 5) -> pd.DataFrame:
    """R, F, M scores, the RFM cell ("555"), the summed score and the named score segment.

    ``features`` is indexed by customer_id with at least recency_days, frequency and monetary.
    """
    if not isinstance(n_bins, int | np.integer) or n_bins < 2:
        raise SegmentationError(
            f"rfm_scores needs n_bins to be an integer >= 2 (5 gives the classic quintiles), "
            f"got {n_bins!r}."
        )
    missing = [c for c in (RECENCY, FREQUENCY, MONETARY) if c not in features.columns]
    if missing:
        raise SegmentationError(
            f"RFM scores need the columns {RECENCY}, {FREQUENCY} and {MONETARY}; the feature "
            f"table lacks {', '.join(missing)}. Build features with the rfm or lrfmc feature set."
        )
    if not features.index.is_unique:
        raise SegmentationError(
            "RFM scores need one row per customer, but the feature table index has duplicated "
            "customer ids. Aggregate the table per customer first."
        )
    rfm = features[[RECENCY, FREQUENCY, MONETARY]]
    if rfm.isna().any().any():
        bad = rfm.columns[rfm.isna().any()].tolist()
        raise SegmentationError(
            f"RFM scores cannot rank missing values; column(s) {', '.join(bad)} contain NaN. "
            f"Drop or fill those customers before scoring."
        )
    r = n_bins + 1 - _bin_scores(rfm[RECENCY], n_bins)
    f = _bin_scores(rfm[FREQUENCY], n_bins)
    m = _bin_scores(rfm[MONETARY], n_bins)
    out = pd.DataFrame({"r_score": r, "f_score": f, "m_score": m}, index=features.index)
    out["rfm_cell"] = (
        out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    )
    out["rfm_score"] = r + f + m
    out[SCORE_SEGMENT] = _grid_segments(r, f, m, n_bins)
    out.index.name = features.index.name or CUSTOMER_ID
    return out


def _grid_segments(r: np.ndarray, f: np.ndarray, m: np.ndarray, n_bins: int) -> np.ndarray:
    def to_five(score: np.ndarray) -> np.ndarray:
        return (score * 5 + n_bins - 1) // n_bins

    r5 = to_five(r)
    fm5 = (to_five(f) + to_five(m) + 1) // 2
    table = np.array([SCORE_GRID[score] for score in range(1, 6)], dtype=object)
    return table[r5 - 1, fm5 - 1].astype(str)


def score_crosstab(segment_names: pd.Series, score_segments: pd.Series) -> pd.DataFrame:
    """Customers per (cluster segment, score segment), with a Total row and column.

    Both series are indexed by customer_id and aligned on it; customers missing from either
    are left out. Score segments appear in grid order (best first).
    """
    joined = pd.concat(
        [segment_names.rename(SEGMENT_NAME), score_segments.rename(SCORE_SEGMENT)],
        axis=1,
        join="inner",
    ).dropna()
    table = pd.crosstab(
        joined[SEGMENT_NAME], joined[SCORE_SEGMENT], margins=True, margins_name="Total"
    )
    known = [s for s in SCORE_SEGMENTS if s in table.columns]
    other = [c for c in table.columns if c not in known and c != "Total"]
    return table[[*known, *other, "Total"]]

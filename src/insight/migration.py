"""How customers move between segments from one snapshot date to the next.

``migration_matrix`` only counts customers segmented at both dates, so each row adds up to the
customers who started in that segment and are still there to be counted. Customers who appear only
in the later snapshot (new) or only in the earlier one (gone) are reported separately by
``entries_and_exits``, keeping the matrix a clean "from -> to" table.
"""

from __future__ import annotations

import pandas as pd

from src.errors import SegmentationError


def _labels(series: pd.Series, which: str) -> pd.Series:
    duplicated = series.index[series.index.duplicated()]
    if len(duplicated):
        raise SegmentationError(
            f"The {which} segment assignment lists customer(s) {', '.join(map(str, duplicated[:5]))} "
            "more than once. Pass one segment per customer (a Series indexed by customer_id)."
        )
    return series.dropna()


def segment_order(before: pd.Series, after: pd.Series) -> list:
    """One order for both axes: categorical order if given, else sorted by label."""
    for series in (before, after):
        if isinstance(series.dtype, pd.CategoricalDtype):
            ordered = list(series.cat.categories)
            extra = set(before.dropna()) | set(after.dropna())
            return ordered + sorted(extra - set(ordered), key=str)
    return sorted(set(before.dropna()) | set(after.dropna()), key=str)


def migration_matrix(before: pd.Series, after: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and row shares of customers moving from their earlier to their later segment.

    ``before`` and ``after`` map customer_id -> segment at two snapshot dates. Returns
    ``(counts, shares)`` with index ``from`` and columns ``to`` in the same order, covering every
    segment seen at either date (so the diagonal is "stayed"). A row of ``shares`` is NaN when no
    customer present at both dates started in that segment.
    """
    before, after = _labels(before, "earlier"), _labels(after, "later")
    order = segment_order(before, after)
    common = before.index.intersection(after.index)
    counts = pd.crosstab(
        pd.Categorical(before.loc[common], categories=order),
        pd.Categorical(after.loc[common], categories=order),
        dropna=False,
    )
    counts.index = pd.Index(order, name="from")
    counts.columns = pd.Index(order, name="to")
    totals = counts.sum(axis=1)
    shares = counts.div(totals.where(totals > 0), axis=0)
    return counts, shares


def entries_and_exits(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Per segment: customers at each date, those who stayed, arrived new, or were gone.

    ``new`` counts customers in the later snapshot only (by their later segment); ``gone`` counts
    customers in the earlier snapshot only (by their earlier segment).
    """
    before, after = _labels(before, "earlier"), _labels(after, "later")
    order = segment_order(before, after)
    new = after.loc[after.index.difference(before.index)]
    gone = before.loc[before.index.difference(after.index)]
    common = before.index.intersection(after.index)
    stayed = before.loc[common][before.loc[common] == after.loc[common]]
    table = pd.DataFrame(
        {
            "before": before.value_counts(),
            "after": after.value_counts(),
            "stayed": stayed.value_counts(),
            "new": new.value_counts(),
            "gone": gone.value_counts(),
        }
    )
    table = table.reindex(order).fillna(0).astype(int)
    table.index.name = "segment"
    return table

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.errors import SegmentationError
from src.insight.migration import entries_and_exits, migration_matrix


@pytest.fixture
def snapshots() -> tuple[pd.Series, pd.Series]:
    before = pd.Series({"a": "Loyal", "b": "New", "c": "Lost", "d": "Loyal", "e": "New"})
    after = pd.Series({"a": "Loyal", "b": "Loyal", "c": "New", "e": "New", "f": "Champions"})
    return before, after


def test_rows_sum_to_customers_present_at_both_dates(snapshots):
    before, after = snapshots
    counts, _ = migration_matrix(before, after)
    common = before.index.intersection(after.index)
    expected = before.loc[common].value_counts().reindex(counts.index, fill_value=0)
    pd.testing.assert_series_equal(counts.sum(axis=1), expected, check_names=False)


def test_share_rows_sum_to_one_where_anyone_started(snapshots):
    counts, shares = migration_matrix(*snapshots)
    started = counts.sum(axis=1) > 0
    np.testing.assert_allclose(shares[started].sum(axis=1), 1.0)
    assert shares[~started].isna().all(axis=None)


def test_axes_share_one_order_covering_both_dates(snapshots):
    counts, shares = migration_matrix(*snapshots)
    assert (
        list(counts.index) == list(counts.columns) == sorted(["Champions", "Lost", "Loyal", "New"])
    )
    assert counts.index.name == "from" and counts.columns.name == "to"
    assert shares.index.equals(counts.index) and shares.columns.equals(counts.columns)


def test_categorical_order_is_kept():
    order = ["New", "Loyal", "Lost"]
    before = pd.Series(pd.Categorical(["Lost", "New"], categories=order), index=["a", "b"])
    after = pd.Series(pd.Categorical(["New", "Loyal"], categories=order), index=["a", "b"])
    counts, _ = migration_matrix(before, after)
    assert list(counts.index) == order


def test_cell_counts_the_move(snapshots):
    counts, _ = migration_matrix(*snapshots)
    assert counts.loc["New", "Loyal"] == 1
    assert counts.loc["Lost", "New"] == 1


def test_entries_and_exits_count_one_sided_customers(snapshots):
    table = entries_and_exits(*snapshots)
    assert table.loc["Champions", "new"] == 1
    assert table.loc["Loyal", "gone"] == 1
    assert table["stayed"].sum() == 2
    assert (table["before"] - table["gone"]).sum() == migration_matrix(*snapshots)[
        0
    ].to_numpy().sum()


def test_duplicate_customer_is_a_user_error():
    before = pd.Series(["A", "B"], index=["x", "x"])
    with pytest.raises(SegmentationError, match="more than once"):
        migration_matrix(before, pd.Series({"x": "A"}))


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.integers(0, 30), st.sampled_from("ABC"), max_size=25),
    st.dictionaries(st.integers(0, 30), st.sampled_from("ABCD"), max_size=25),
)
def test_total_equals_customers_at_both_dates(before, after):
    counts, shares = migration_matrix(
        pd.Series(before, dtype=object), pd.Series(after, dtype=object)
    )
    assert counts.to_numpy().sum() == len(before.keys() & after.keys())
    assert list(counts.index) == list(counts.columns)

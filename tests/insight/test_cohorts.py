import numpy as np
import pandas as pd
import polars as pl
import pytest

from src.columns import AMOUNT, CUSTOMER_ID, INVOICE_DATE, INVOICE_ID, IS_RETURN
from src.errors import SegmentationError
from src.insight.cohorts import cohort_retention


def _log(rows: list[tuple[str, str]], returns: tuple[int, ...] = ()) -> pd.DataFrame:
    """(customer, date) purchases; positions in ``returns`` are return lines."""
    tx = pd.DataFrame(rows, columns=[CUSTOMER_ID, INVOICE_DATE])
    tx[INVOICE_DATE] = pd.to_datetime(tx[INVOICE_DATE])
    tx[INVOICE_ID] = [f"i{i}" for i in range(len(tx))]
    tx[IS_RETURN] = [i in returns for i in range(len(tx))]
    tx[AMOUNT] = np.where(tx[IS_RETURN], -1.0, 1.0)
    return pl.from_pandas(tx)


@pytest.fixture
def tx() -> pd.DataFrame:
    # a: Dec, Jan, Feb (twice in Feb) | b: Dec, Feb | c: Jan, Feb | d: Jan only
    return _log(
        [
            ("a", "2010-12-01"),
            ("b", "2010-12-15"),
            ("a", "2011-01-10"),
            ("c", "2011-01-11"),
            ("d", "2011-01-31"),
            ("a", "2011-02-01"),
            ("a", "2011-02-20"),
            ("b", "2011-02-28"),
            ("c", "2011-02-05"),
        ]
    )


def test_counts_match_hand_computed_matrix(tx):
    counts, _ = cohort_retention(tx)
    expected = pd.DataFrame(
        [[2, 1, 2], [2, 1, pd.NA]],
        index=pd.Index(["2010-12", "2011-01"], name="cohort"),
        columns=pd.Index([0, 1, 2], name="period"),
        dtype="Int64",
    )
    pd.testing.assert_frame_equal(counts, expected, check_index_type=False)


def test_shares_divide_by_cohort_size(tx):
    counts, shares = cohort_retention(tx)
    assert (shares[0] == 1.0).all()
    assert shares.loc["2010-12", 1] == pytest.approx(0.5)
    assert shares.loc["2011-01", 1] == pytest.approx(0.5)


def test_cells_after_the_last_month_are_missing_not_zero(tx):
    counts, shares = cohort_retention(tx)
    assert counts.loc["2011-01", 2] is pd.NA
    assert np.isnan(shares.loc["2011-01", 2])


def test_index_is_month_string_and_columns_are_offsets(tx):
    counts, shares = cohort_retention(tx)
    assert list(counts.index) == ["2010-12", "2011-01"]
    assert list(shares.columns) == list(range(3))


def test_returns_do_not_make_a_customer_active():
    tx = _log([("a", "2011-01-05"), ("a", "2011-02-05"), ("b", "2011-02-06")], returns=(1,))
    counts, _ = cohort_retention(tx)
    assert counts.loc["2011-01", 1] == 0


def test_month_without_any_new_customer_has_no_cohort_row():
    tx = _log([("a", "2011-01-05"), ("a", "2011-02-05"), ("b", "2011-03-01")])
    counts, _ = cohort_retention(tx)
    assert list(counts.index) == ["2011-01", "2011-03"]
    assert list(counts.columns) == [0, 1, 2]


def test_cohorts_span_a_year_boundary_in_month_steps():
    tx = _log([("a", "2010-11-30"), ("a", "2011-02-01")])
    counts, _ = cohort_retention(tx)
    assert counts.loc["2010-11", 3] == 1
    assert counts.loc["2010-11", [1, 2]].tolist() == [0, 0]


def test_missing_column_is_a_user_error(tx):
    with pytest.raises(SegmentationError, match=INVOICE_DATE):
        cohort_retention(tx.drop(INVOICE_DATE))

"""The BTYD summary from a cleaned log: repeat purchase days, first-to-last recency, T."""

from __future__ import annotations

import pandas as pd
import pytest

from src.errors import SegmentationError

pytest.importorskip("pymc_marketing")

from src.value.summary import btyd_summary, purchase_days, train_test_summary

SNAPSHOT = pd.Timestamp("2024-01-11")


def _log() -> pd.DataFrame:
    """A buys on 1 Jan twice (one day), 3 Jan and 10 Jan; B once on 5 Jan; C returns a line."""
    return pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "B", "C", "C"],
            "invoice_id": ["1", "2", "3", "4", "5", "6", "7"],
            "invoice_date": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",
                    "2024-01-03 10:00",
                    "2024-01-10 12:00",
                    "2024-01-05 08:00",
                    "2024-01-02 08:00",
                    "2024-01-06 08:00",
                ]
            ),
            "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 30.0, -30.0],
            "is_return": [False, False, False, False, False, False, True],
        }
    )


def test_frequency_counts_repeat_purchase_days_and_recency_runs_first_to_last():
    summary = btyd_summary(purchase_days(_log()), SNAPSHOT)
    a = summary.loc["A"]
    assert a["frequency"] == 2  # 1, 3 and 10 Jan: two repeat days (the two 1 Jan orders are one)
    assert a["recency"] == 9  # 1 Jan to 10 Jan
    assert a["T"] == 10  # 1 Jan to the snapshot
    assert a["monetary_value"] == pytest.approx(30.0)  # mean of the repeat days (20, 40)


def test_one_time_customers_have_zero_frequency_recency_and_spend():
    b = btyd_summary(purchase_days(_log()), SNAPSHOT).loc["B"]
    assert (b["frequency"], b["recency"], b["monetary_value"]) == (0, 0, 0)
    assert b["T"] == 6


def test_returned_lines_are_not_purchases():
    c = btyd_summary(purchase_days(_log()), SNAPSHOT).loc["C"]
    assert c["frequency"] == 0  # the 6 Jan line is a return, not a second purchase day


def test_polars_and_pandas_logs_give_the_same_summary():
    pl = pytest.importorskip("polars")
    from_pandas = btyd_summary(purchase_days(_log()), SNAPSHOT)
    from_polars = btyd_summary(purchase_days(pl.from_pandas(_log())), SNAPSHOT)
    pd.testing.assert_frame_equal(from_pandas.sort_index(), from_polars.sort_index())


def test_a_per_customer_table_is_refused_with_a_way_out():
    with pytest.raises(SegmentationError, match="value=none"):
        purchase_days(None)


def test_a_log_without_amounts_names_the_missing_column():
    with pytest.raises(SegmentationError, match="amount"):
        purchase_days(_log().drop(columns="amount"))


def test_the_holdout_split_trains_before_the_cutoff_and_counts_days_after_it():
    split = train_test_summary(purchase_days(_log()), pd.Timestamp("2024-01-04"), SNAPSHOT)
    a = split.loc["A"]
    # Training: 1 and 3 Jan; holdout: 10 Jan. T runs to the cut-off, as btyd_summary's would.
    assert (a["frequency"], a["recency"], a["T"]) == (1, 2, 3)
    assert a["test_frequency"] == 1
    assert a["test_T"] == 7
    assert "B" not in split.index  # first seen after the cut-off

"""Per-segment totals, means and value at risk from per-customer values."""

from __future__ import annotations

import pandas as pd
import pytest

from src.errors import SegmentationError
from src.value.segments import segment_value


def _values() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "p_alive": [0.9, 0.2, 0.8, 0.1],
            "expected_purchases": [2.0, 0.5, 1.0, 0.1],
            "clv": [300.0, 100.0, 50.0, 50.0],
        },
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
    )


def _assignments() -> pd.DataFrame:
    return pd.DataFrame(
        {"segment_id": [0, 0, 1, 1], "segment_name": ["Champions"] * 2 + ["Lost"] * 2},
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
    )


def test_segment_totals_and_means():
    table = segment_value(_values(), _assignments(), at_risk_p_alive=0.5)
    assert table.loc[0, "clv"] == 400.0
    assert table.loc[0, "mean_p_alive"] == pytest.approx(0.55)
    assert table.loc[1, "mean_clv"] == 50.0
    assert table["clv_share"].sum() == pytest.approx(1.0)
    assert table.loc[0, "segment_name"] == "Champions"


def test_value_at_risk_is_the_share_held_by_customers_below_the_threshold():
    table = segment_value(_values(), _assignments(), at_risk_p_alive=0.5)
    assert table.loc[0, "at_risk_customers"] == 1
    assert table.loc[0, "at_risk_clv_share"] == pytest.approx(100.0 / 400.0)
    assert table.loc[1, "at_risk_clv_share"] == pytest.approx(0.5)


def test_customers_missing_on_one_side_fail():
    with pytest.raises(SegmentationError, match="same cleaned log"):
        segment_value(_values().iloc[:3], _assignments(), at_risk_p_alive=0.5)

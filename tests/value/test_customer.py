"""Per-customer predictions: each customer's values stay on that customer's row."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("pymc_marketing")

from src.config.schema import ValueConfig
from src.value.customer import VALUE_COLUMNS, customer_value
from src.value.models import ValueParams

PARAMS = ValueParams(
    model="beta_geo",
    fit="map",
    transactions={"r": [0.8], "alpha": [60.0], "a": [0.5], "b": [3.0]},
    spend={"p": [5.0], "q": [3.0], "v": [40.0]},
    customers=4,
    repeat_customers=3,
)


def _summary() -> pd.DataFrame:
    """A steady recent buyer, a lapsed one, a one-day customer and a big spender."""
    return pd.DataFrame(
        {
            "frequency": [12.0, 3.0, 0.0, 5.0],
            "recency": [300.0, 40.0, 0.0, 200.0],
            "T": [310.0, 350.0, 90.0, 220.0],
            "monetary_value": [20.0, 25.0, 0.0, 400.0],
        },
        index=pd.Index(["steady", "lapsed", "once", "big"], name="customer_id"),
    )


def test_values_follow_the_customer_not_the_row_order():
    summary = _summary()
    forward = customer_value(summary, PARAMS, ValueConfig())
    backward = customer_value(summary.iloc[::-1], PARAMS, ValueConfig())
    pd.testing.assert_frame_equal(
        forward[list(VALUE_COLUMNS)], backward[list(VALUE_COLUMNS)].loc[forward.index]
    )
    assert forward.loc["lapsed", "p_alive"] < forward.loc["steady", "p_alive"]
    assert forward["clv"].idxmax() == "big"

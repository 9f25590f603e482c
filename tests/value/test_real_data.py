"""The temporal holdout on UCI Online Retail: fit up to three months before the end, predict
the last three months (the issue's acceptance check)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc_marketing")

from src.config.schema import ValueConfig
from src.data.cleaning import clean_transactions
from src.value.holdout import temporal_holdout
from src.value.summary import purchase_days

pytestmark = [pytest.mark.real_data, pytest.mark.slow]

SNAPSHOT = pd.Timestamp("2011-12-10")


@pytest.fixture(scope="module")
def holdout(online_retail):
    classic = {"drop_duplicates": False, "drop_non_product_codes": False}
    cleaned, _ = clean_transactions(online_retail, classic)
    return temporal_holdout(purchase_days(cleaned), SNAPSHOT, ValueConfig(holdout_months=3))


def test_the_uci_holdout_starts_three_months_before_the_end(holdout):
    assert holdout.cutoff == pd.Timestamp("2011-09-10")
    assert holdout.metrics["holdout.days"] == 91


def test_the_model_beats_the_naive_rate_on_uci_customers(holdout):
    metrics = holdout.metrics
    assert np.isfinite(metrics["holdout.mae"])
    assert metrics["holdout.mae"] < metrics["holdout.baseline_mae"]
    # Fitted on customers first seen before the cut-off only.
    assert metrics["holdout.customers"] < 4338


def test_calibration_rises_with_training_frequency(holdout):
    calibration = holdout.calibration
    assert calibration["actual"].iloc[-1] > calibration["actual"].iloc[0]
    assert calibration["predicted"].is_monotonic_increasing

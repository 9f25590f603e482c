"""The value step on the synthetic shop: planted segments, the parameters a model carries, the
per-segment table and the holdout, from one fit on a cleaned log (MAP)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc_marketing")

from src.config.schema import (
    CleaningConfig,
    DatasetConfig,
    DatasetType,
    FeaturesConfig,
    FeatureSet,
    ValueConfig,
)
from src.data.prepare import prepare_data
from src.result import FigureId
from src.value.customer import customer_value
from src.value.job import estimate_value
from src.value.models import ValueParams

CFG = ValueConfig(enabled=True, holdout_months=3)


@pytest.fixture(scope="module")
def shop():
    """A cleaned synthetic log with its planted segments as the segmentation."""
    data = prepare_data(
        DatasetConfig(name="synthetic", type=DatasetType.synthetic, n_customers=1500, seed=3),
        CleaningConfig(),
        FeaturesConfig(name=FeatureSet.rfm),
    )
    truth = data.dataset.ground_truth.reindex(data.features.index).astype(str)
    codes = {name: i for i, name in enumerate(sorted(truth.unique()))}
    assignments = pd.DataFrame(
        {"segment_id": truth.map(codes).astype(int), "segment_name": truth},
        index=data.features.index,
    )
    return data, assignments


@pytest.fixture(scope="module")
def value(shop):
    data, assignments = shop
    return estimate_value(data.transactions, data.snapshot, assignments, CFG)


def test_planted_lapsing_segments_are_less_alive_than_champions_and_loyal(value):
    by_segment = value.segments.set_index("segment_name")["mean_p_alive"]
    active = min(by_segment["champions"], by_segment["loyal"])
    for lapsing in ("at_risk", "hibernating"):
        assert by_segment[lapsing] < active, by_segment.to_dict()


def test_every_customer_of_the_segmentation_gets_a_value(value, shop):
    _, assignments = shop
    assert set(value.customers.index) == set(assignments.index)
    assert value.customers["p_alive"].between(0, 1).all()
    assert (value.customers["clv"] >= 0).all()
    assert value.segments["customers"].sum() == len(assignments)


def test_the_carried_parameters_rebuild_the_same_predictions_from_json(value):
    restored = ValueParams.from_dict(json.loads(json.dumps(value.params.to_dict())))
    again = customer_value(
        value.customers[["frequency", "recency", "T", "monetary_value"]], restored, CFG
    )
    np.testing.assert_allclose(again["p_alive"], value.customers["p_alive"])
    np.testing.assert_allclose(again["clv"], value.customers["clv"])


def test_a_longer_horizon_expects_more_purchases_and_value(value):
    longer = ValueConfig(enabled=True, purchase_days=CFG.purchase_days * 2, clv_months=24)
    again = customer_value(
        value.customers[["frequency", "recency", "T", "monetary_value"]], value.params, longer
    )
    assert again["expected_purchases"].sum() > value.customers["expected_purchases"].sum()
    assert again["clv"].sum() > value.customers["clv"].sum()


def test_the_holdout_reports_its_errors_and_a_calibration_figure(value):
    metrics = value.metrics
    assert metrics["value.holdout.mae"] >= 0
    assert np.isfinite(metrics["value.holdout.aggregate_error"])
    assert metrics["value.holdout.days"] > 80
    assert value.holdout.calibration["customers"].sum() == metrics["value.holdout.customers"]
    assert set(value.figures) == {
        FigureId.VALUE_P_ALIVE.value,
        FigureId.VALUE_BY_SEGMENT.value,
        FigureId.VALUE_CALIBRATION.value,
    }
    assert all(png.startswith(b"\x89PNG") for png in value.figures.values())

"""Comparing two segmentations of the same customers: agreement, mapping, metric differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline

from src.jobs.compare import compare_labels
from src.model.evaluation import EvaluationSpace
from src.model.segmentation import SegmentationModel
from src.model.transformers import LogStandardScaler
from tests.model.test_segmentation import lrfmc_features


def model(features: pd.DataFrame, k: int, seed: int = 0) -> SegmentationModel:
    pipeline = Pipeline(
        [("scaler", LogStandardScaler()), ("model", KMeans(k, n_init=3, random_state=seed))]
    )
    fitted = SegmentationModel(pipeline, list(features.columns)).fit(features)
    fitted.segment_names = {s: f"Name {s}" for s in range(k)}
    return fitted


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return lrfmc_features(400)


@pytest.fixture(scope="module")
def X(features) -> np.ndarray:
    return EvaluationSpace().fit_transform(features)


def test_a_model_compared_with_itself_agrees_fully(features, X):
    a = model(features, 3).predict(features)
    ari, same, counts, mapping, metrics = compare_labels(a, a, X, X, 10_000, 0)
    assert ari == pytest.approx(1.0) and same == pytest.approx(1.0)
    assert (metrics["B - A"] == 0).all()
    assert (mapping["share in best match"] == 1.0).all()


def test_a_finer_model_maps_each_segment_onto_its_parts(features, X):
    a = model(features, 3).predict(features)
    b = model(features, 5).predict(features)
    ari, same, counts, mapping, metrics = compare_labels(a, b, X, X, 10_000, 0)
    assert 0 < ari < 1
    assert counts.to_numpy().sum() == len(features)
    shares = mapping.drop(columns=["best match in B", "share in best match"])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert list(counts.index) == ["0 Name 0", "1 Name 1", "2 Name 2"]
    assert metrics.loc["n_clusters", "B - A"] == 2
    assert same == pytest.approx(counts.max(axis=1).sum() / len(features))


def test_segments_with_one_name_stay_apart(features, X):
    a = model(features, 3).predict(features)
    b = a.assign(segment_name="Same name")
    _, same, counts, _, _ = compare_labels(a, b, X, X, 10_000, 0)
    assert len(counts.columns) == 3 and same == pytest.approx(1.0)

"""The fitted segmentation that production loads: pipeline, stable segment ids, centres, names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from src.columns import CUSTOMER_ID, DISTANCE, MONETARY, SEGMENT_ID, SEGMENT_NAME
from src.errors import SegmentationError
from src.model.clusterers import cluster_centres, distances_to_centres, relabel_by


class SegmentationModel:
    """A fitted segmentation: the Pipeline plus stable segment ids, centres and business names.

    Segment ids are ordered by descending mean monetary value so that a refit of the same
    configuration gives the same ids, and `segment_id` 0 is always the highest-value segment.
    Distances are measured in the pipeline's own scaled space.
    """

    def __init__(self, pipeline: Pipeline, feature_names: list[str]):
        self.pipeline = pipeline
        self.feature_names = list(feature_names)
        self.segment_names: dict[int, str] = {}
        # Recommended actions per segment id (the playbook's), for CRM exports.
        self.segment_actions: dict[int, list[str]] = {}
        # The data contract (how the training data was read, cleaned and featurised), as the
        # plain dict of ``src.data.contract.DataContract.to_dict``: production rebuilds it.
        self.contract: dict[str, Any] = {}
        self.order_: np.ndarray | None = None
        self.centres_: np.ndarray | None = None

    def fit(self, features: pd.DataFrame) -> SegmentationModel:
        X = self._select(features)
        self.pipeline.fit(X)
        raw = np.asarray(self.pipeline.predict(X))
        spend = features[MONETARY] if MONETARY in features else X.iloc[:, 0]
        self.order_ = relabel_by(spend.to_numpy(), raw)
        labels = self.order_[raw]
        self.centres_ = cluster_centres(self._scaled(X), labels, n_clusters=len(self.order_))
        self.segment_names = {s: f"Segment {s}" for s in range(len(self.order_))}
        return self

    @property
    def n_segments(self) -> int:
        return 0 if self.order_ is None else len(self.order_)

    def labels(self, features: pd.DataFrame) -> np.ndarray:
        X = self._select(features)
        return self.order_[np.asarray(self.pipeline.predict(X))]

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Segment id, business name and distance to the segment centre for each customer."""
        X = self._select(features)
        labels = self.order_[np.asarray(self.pipeline.predict(X))]
        dist = distances_to_centres(self._scaled(X), labels, self.centres_)
        out = pd.DataFrame(
            {
                SEGMENT_ID: labels.astype("int64"),
                SEGMENT_NAME: [self.segment_names.get(int(s), f"Segment {s}") for s in labels],
                DISTANCE: dist.astype("float64"),
            },
            index=features.index,
        )
        if CUSTOMER_ID in features.columns:
            out.insert(0, CUSTOMER_ID, features[CUSTOMER_ID].astype(str).to_numpy())
        return out

    def _select(self, features: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names if c not in features.columns]
        if missing:
            raise SegmentationError(
                f"The input lacks the feature column(s) {missing}; this model needs "
                f"{self.feature_names} (found {list(features.columns)})."
            )
        X = features[self.feature_names].astype("float64")
        bad = X.isna().any()
        if bad.any():
            raise SegmentationError(
                f"Missing values in feature column(s) {list(bad[bad].index)}; every customer needs "
                "all features."
            )
        return X

    def _scaled(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline[:-1].transform(X), dtype="float64")

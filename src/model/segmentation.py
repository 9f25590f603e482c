"""The fitted segmentation that production loads: pipeline, stable segment ids, centres, names.

A stored model is a folder of two files, neither of them a pickle: the fitted scikit-learn
Pipeline in skops format (``pipeline.skops``), read back with an explicit list of trusted types,
and the model's own state as JSON (``segmentation.json``: format, feature names and their valid
ranges, segment order, centres, names and the data contract).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from src.columns import CUSTOMER_ID, DISTANCE, MONETARY, SEGMENT_ID, SEGMENT_NAME
from src.errors import SegmentationError
from src.model.clusterers import cluster_centres, distances_to_centres, relabel_by
from src.model.validation import FeatureRule, feature_rules, validate_features

# Version of the stored layout; 1 was the joblib pickle written before the package move.
MODEL_FORMAT = 2
PIPELINE_FILE = "pipeline.skops"
STATE_FILE = "segmentation.json"

# The types in a fitted pipeline of the configured options (conf/outliers, conf/scaler,
# conf/model) that skops does not trust by default; everything else in such a pipeline is
# scikit-learn, numpy or builtins that skops trusts itself. tests/model/test_segmentation.py
# rebuilds this list from the configs and fails when it drifts.
TRUSTED_TYPES = (
    "sklearn.tree._tree.Tree",  # the trees of IsolationForestFilter's forest
    "src.model.clusterers.AgglomerativeNearestCentroid",
    "src.model.clusterers.PortableBirch",
    "src.model.transformers.IQRClipper",
    "src.model.transformers.IsolationForestFilter",
    "src.model.transformers.LogStandardScaler",
    "src.model.transformers.QuantileClipper",
    "src.model.transformers.ZScoreClipper",
)


class SegmentationModel:
    """A fitted segmentation: the Pipeline plus stable segment ids, centres and business names.

    Segment ids are ordered by descending mean monetary value so that a refit of the same
    configuration gives the same ids, and `segment_id` 0 is always the highest-value segment.
    Distances are measured in the pipeline's own scaled space. Every table it fits or scores
    is checked against the feature rules first (``src.model.validation``).
    """

    def __init__(self, pipeline: Pipeline, feature_names: list[str]):
        self.pipeline = pipeline
        self.feature_names = list(feature_names)
        self.feature_rules: dict[str, FeatureRule] = feature_rules(self.feature_names)
        self.segment_names: dict[int, str] = {}
        # Recommended actions per segment id (the playbook's), for CRM exports.
        self.segment_actions: dict[int, list[str]] = {}
        # The data contract (how the training data was read, cleaned and featurised), as the
        # plain dict of ``src.data.contract.DataContract.to_dict``: production rebuilds it.
        self.contract: dict[str, Any] = {}
        # The fitted customer value model (src.value.job.value_state) as plain data, when the
        # model was trained with value on; the CRM export then adds P(alive), purchases, CLV.
        self.value_model: dict[str, Any] | None = None
        self.order_: np.ndarray | None = None
        self.centres_: np.ndarray | None = None

    def fit(self, features: pd.DataFrame) -> SegmentationModel:
        X = self._select(features)
        self.pipeline.fit(X)
        raw = np.asarray(self.pipeline.predict(X))
        spend = X[MONETARY] if MONETARY in X else X.iloc[:, 0]
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
        """Segment id, business name and distance to the segment centre for each customer.

        A ``customer_id`` column comes back first, with the values and dtype it was given
        (integers stay integers), so the result joins back onto the caller's table.
        """
        X = self._select(features)
        labels = self.order_[np.asarray(self.pipeline.predict(X))]
        dist = distances_to_centres(self._scaled(X), labels, self.centres_)
        out = pd.DataFrame(
            {
                SEGMENT_ID: labels.astype("int64"),
                SEGMENT_NAME: self.name_of(labels),
                DISTANCE: dist.astype("float64"),
            },
            index=features.index,
        )
        if CUSTOMER_ID in features.columns:
            out.insert(0, CUSTOMER_ID, features[CUSTOMER_ID].array)
        return out

    def name_of(self, labels: np.ndarray) -> np.ndarray:
        """The business name of each segment id in ``labels``."""
        names = [self.segment_names.get(s, f"Segment {s}") for s in range(self.n_segments)]
        return np.asarray(names, dtype=object)[np.asarray(labels, dtype="int64")]

    def _select(self, features: pd.DataFrame) -> pd.DataFrame:
        return validate_features(features, self.feature_rules)

    def _scaled(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline[:-1].transform(X), dtype="float64")

    # ---- storage ---------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Everything but the pipeline, as JSON-able plain data (NaN centres as null)."""
        if self.order_ is None:
            raise SegmentationError("Fit the SegmentationModel before storing it.")
        return {
            "model_format": MODEL_FORMAT,
            "feature_names": self.feature_names,
            "feature_rules": {name: rule.to_dict() for name, rule in self.feature_rules.items()},
            "segment_order": [int(i) for i in self.order_],
            "centres": [
                [None if math.isnan(v) else float(v) for v in row] for row in self.centres_
            ],
            "segment_names": {str(k): v for k, v in self.segment_names.items()},
            "segment_actions": {str(k): list(v) for k, v in self.segment_actions.items()},
            "contract": self.contract,
            "value_model": self.value_model,
        }

    @classmethod
    def from_state(cls, pipeline: Pipeline, state: dict[str, Any]) -> SegmentationModel:
        try:
            model = cls(pipeline, state["feature_names"])
            model.feature_rules = {
                name: FeatureRule.from_dict(rule) for name, rule in state["feature_rules"].items()
            }
            model.order_ = np.asarray(state["segment_order"], dtype=np.intp)
            model.centres_ = np.array(
                [[np.nan if v is None else v for v in row] for row in state["centres"]],
                dtype="float64",
            )
            model.segment_names = {int(k): v for k, v in state["segment_names"].items()}
            # Models stored before the actions were carried have none (the export looks them up).
            model.segment_actions = {
                int(k): list(v) for k, v in state.get("segment_actions", {}).items()
            }
            model.contract = dict(state["contract"])
            model.value_model = state.get("value_model")  # None: trained without value
        except (KeyError, TypeError, ValueError) as exc:
            raise SegmentationError(
                f"The stored segmentation state is incomplete or malformed ({exc!r}); it was not "
                "written by this project's SegmentationModel.save."
            ) from None
        return model

    def save(self, folder: Path) -> Path:
        """Write ``pipeline.skops`` and ``segmentation.json`` into ``folder``; returns it."""
        import skops.io

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = self.to_state()
        # Deflated: an isolation forest's trees shrink 8x (3.2 MB -> 0.4 MB) for +15% load time.
        skops.io.dump(self.pipeline, folder / PIPELINE_FILE, compression=zipfile.ZIP_DEFLATED)
        (folder / STATE_FILE).write_text(json.dumps(state, indent=1, allow_nan=False) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path) -> SegmentationModel:
        """Read a stored model: JSON state, and the pipeline through skops' type audit.

        A pipeline holding any type outside skops' defaults and ``TRUSTED_TYPES`` is refused
        before anything in it is built.
        """
        import skops.io
        from skops.io.exceptions import UntrustedTypesFoundException

        folder = Path(folder)
        try:
            state = json.loads((folder / STATE_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise SegmentationError(
                f"Could not read the segmentation state {folder / STATE_FILE} ({exc})."
            ) from None
        if state.get("model_format") != MODEL_FORMAT:
            raise SegmentationError(
                f"{folder / STATE_FILE} is model format {state.get('model_format')!r}; this "
                f"code reads format {MODEL_FORMAT}."
            )
        try:
            pipeline = skops.io.load(folder / PIPELINE_FILE, trusted=list(TRUSTED_TYPES))
        except UntrustedTypesFoundException as exc:
            raise SegmentationError(
                f"The stored pipeline {folder / PIPELINE_FILE} holds types this project does not "
                f"trust ({exc}); none of its configured pipelines contains them. Not loaded: "
                "treat the model store it came from as compromised."
            ) from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise SegmentationError(
                f"Could not read the stored pipeline {folder / PIPELINE_FILE} ({exc})."
            ) from None
        return cls.from_state(pipeline, state)

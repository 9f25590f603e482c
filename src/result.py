"""What a sweep hands on: one typed, immutable result for MLflow, the report and the console.

The finalise step builds a :class:`SegmentationResult` without touching MLflow; logging, the
HTML report, the registry and the console summary each take it once. Figures are keyed by
:class:`FigureId`, the one name a figure has everywhere (its artifact path, its report section,
its caption).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import pandas as pd


class FigureId(StrEnum):
    """Every figure of a sweep; the value is its file name without ``.png``."""

    RADAR = "radar"
    RADAR_GRID = "radar_grid"
    SIZES = "segment_sizes"
    MEANS = "segment_means"
    ELBOW = "elbow"
    SILHOUETTE_VS_K = "silhouette_vs_k"
    SILHOUETTE_DIAGRAM = "silhouette_diagram"
    PCA = "pca_2d"
    SCATTER_3D = "scatter_3d"
    SCATTER_MATRIX = "scatter_matrix"
    OPTUNA_HISTORY = "optuna_history"
    OPTUNA_IMPORTANCES = "optuna_importances"


SWEPT_GROUPS = ("outliers", "scaler", "model")


@dataclass(frozen=True)
class Choice:
    """One configuration of the search space: an option of each swept group and k."""

    outliers: str
    scaler: str
    model: str
    k: int

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Choice:
        return cls(*(str(values[g]) for g in SWEPT_GROUPS), k=int(values["k"]))

    def as_dict(self) -> dict[str, Any]:
        return {"outliers": self.outliers, "scaler": self.scaler, "model": self.model, "k": self.k}

    def describe(self) -> str:
        return f"{self.outliers} + {self.scaler} + {self.model} (k={self.k})"


@dataclass(frozen=True)
class DatasetSummary:
    """What was segmented, as the report and the run's tags show it."""

    name: str
    source: str
    kind: str
    customers: int
    fingerprint: str
    feature_set: str
    snapshot: pd.Timestamp | None
    rows_after_cleaning: int | None = None


@dataclass(frozen=True)
class Insight:
    """Business tables of the chosen segmentation (all pandas, indexed as logged).

    ``tables`` holds every table by its artifact name (``segment_actions``, ``rfm_scores``,
    ``cluster_vs_rfm_score``, ``segment_top_products``, ...); the named fields point into it.
    """

    tables: Mapping[str, pd.DataFrame]
    actions: pd.DataFrame
    rfm_crosstab: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    products_note: str | None = None
    rules: pd.DataFrame | None = None  # per segment: a plain rule, its precision and coverage


@dataclass(frozen=True)
class SegmentationResult:
    """The chosen configuration refitted on all customers, with everything computed about it."""

    experiment: str
    dataset: DatasetSummary
    cleaning: pd.DataFrame | None  # one row per cleaning rule (rows in, removed, out)
    objective: str
    min_cluster_share: float
    choice: Choice
    chosen_trial: int  # numbered from 1, as people read them
    metrics: Mapping[str, float]
    shares: tuple[float, ...]
    fitted_params: Mapping[str, Any]  # the chosen pipeline's parameters, dotted, as fitted
    trials: pd.DataFrame  # one row per configuration tried, best first
    # Metrics of the chosen configuration at every k of the range, with the k rule's inputs and
    # verdict per k (acceptable, near_knee, well_separated, stability_ari, chosen, verdict).
    k_curve: pd.DataFrame
    knee: int | None
    # One row per segment: size, share, means, medians, name, description, levels, z-scores,
    # and its worth (revenue, revenue_share, avg_order_value, revenue_per_customer).
    profile: pd.DataFrame
    names: Mapping[int, str]
    features: pd.DataFrame  # the customer feature table the model was fitted on
    assignments: pd.DataFrame  # one row per customer: segment id, name, distance to centre
    insight: Insight
    figures: Mapping[FigureId, bytes]
    model: Any  # the fitted src.model.segmentation.SegmentationModel
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())  # sentences for the report's summary
    k_reason: str = ""  # why this k, in one sentence (the rule of sweep.k_choice)

    def __post_init__(self) -> None:
        for name in ("metrics", "names", "figures", "fitted_params"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def n_segments(self) -> int:
        return len(self.names)

    @property
    def value(self) -> float:
        """The objective's value for the chosen configuration."""
        return float(self.metrics[self.objective])

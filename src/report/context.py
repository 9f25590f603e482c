"""Everything the report shows, already computed: :class:`ReportContext`, built from a sweep's
:class:`~src.result.SegmentationResult` by :meth:`ReportContext.from_result`.

Rendering (``src.report.sections``, ``src.report.page``) does no analysis of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from src.columns import FEATURE_SETS, SEGMENT_ID, SEGMENT_NAME
from src.result import FigureId, SegmentationResult

TOP_TRIALS = 10
CARD_PRODUCTS = 5
# The columns of the best-candidates table (the trials table logged to MLflow has them all).
TRIAL_COLUMNS = (
    "trial",
    "outliers",
    "scaler",
    "model",
    "k",
    "state",
    "repeats",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "min_cluster_share",
)


@dataclass(frozen=True)
class SegmentCard:
    """One segment as its card shows it."""

    segment_id: int
    name: str
    description: str
    n_customers: int
    share: float
    means: Mapping[str, float]  # feature -> the segment's average customer
    actions: tuple[str, ...]
    products: pd.DataFrame | None = None  # the segment's product picks, best first


@dataclass(frozen=True)
class ReportContext:
    title: str
    experiment: str
    run_id: str | None
    created: str
    dataset: Mapping[str, Any]
    cleaning: pd.DataFrame | None
    chosen: Mapping[str, Any]
    metrics: Mapping[str, float]
    objective: str
    min_cluster_share: float
    trials: pd.DataFrame  # best candidates, best first; one row per configuration
    chosen_trial: int | None  # the ``trial`` value of the chosen row
    segments: pd.DataFrame  # one row per segment: id, name, customers, share, feature means
    features: tuple[str, ...]
    overall: Mapping[str, float]  # feature -> the average over all customers
    cards: tuple[SegmentCard, ...]
    figures: Mapping[FigureId, bytes]
    rfm_crosstab: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    products_note: str | None = None
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_result(
        cls, result: SegmentationResult, run_id: str | None = None, created: str | None = None
    ) -> ReportContext:
        features = tuple(
            c for c in FEATURE_SETS[result.dataset.feature_set] if c in result.profile.columns
        )
        segments = result.profile.reset_index()[
            [SEGMENT_ID, SEGMENT_NAME, "n_customers", "share", *features]
        ]
        weights = segments["n_customers"].astype(float)
        overall = {f: float((segments[f] * weights).sum() / weights.sum()) for f in features}
        return cls(
            title=f"Customer segments: {result.experiment}",
            experiment=result.experiment,
            run_id=run_id,
            created=created or datetime.now().strftime("%Y-%m-%d %H:%M"),
            dataset=_dataset_facts(result),
            cleaning=result.cleaning,
            chosen={
                **result.choice.as_dict(),
                "trial": result.chosen_trial,
                "objective": result.objective,
                "min cluster share": result.min_cluster_share,
            },
            metrics=dict(result.metrics),
            objective=result.objective,
            min_cluster_share=result.min_cluster_share,
            trials=_best_candidates(result.trials, result.chosen_trial),
            chosen_trial=result.chosen_trial,
            segments=segments,
            features=features,
            overall=overall,
            cards=tuple(_cards(result, features)),
            figures=dict(result.figures),
            rfm_crosstab=result.insight.rfm_crosstab,
            products=result.insight.products,
            products_note=result.insight.products_note,
            notes=(*result.warnings, *result.notes),
        )


def _dataset_facts(result: SegmentationResult) -> dict[str, Any]:
    ds = result.dataset
    facts: dict[str, Any] = {
        "name": ds.name,
        "source": ds.source,
        "kind": ds.kind,
        "customers": ds.customers,
        "fingerprint": ds.fingerprint,
        "snapshot date": None if ds.snapshot is None else str(ds.snapshot.date()),
        "feature set": ds.feature_set,
    }
    if ds.rows_after_cleaning is not None:
        facts["rows after cleaning"] = ds.rows_after_cleaning
    return facts


def _best_candidates(trials: pd.DataFrame, chosen_trial: int) -> pd.DataFrame:
    """The top rows of the trials table, always including the chosen one."""
    if trials.empty:
        return trials
    top = trials.head(TOP_TRIALS)
    if "trial" in trials and chosen_trial not in set(top["trial"]):
        top = pd.concat([top, trials[trials["trial"] == chosen_trial]])
    return top[[c for c in TRIAL_COLUMNS if c in top.columns]].reset_index(drop=True)


def _cards(result: SegmentationResult, features: tuple[str, ...]):
    products = result.insight.products
    actions = result.insight.actions
    for seg_id, row in result.profile.iterrows():
        name = str(row[SEGMENT_NAME])
        picks = None
        if products is not None:
            picks = (
                products[products["segment"] == name].drop(columns="segment").head(CARD_PRODUCTS)
            )
        yield SegmentCard(
            segment_id=int(seg_id),
            name=name,
            description=str(row.get("description", "") or ""),
            n_customers=int(row["n_customers"]),
            share=float(row["share"]),
            means={f: float(row[f]) for f in features},
            actions=tuple(actions.loc[seg_id, "actions"]) if seg_id in actions.index else (),
            products=picks,
        )

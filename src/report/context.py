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


# The why-k table: the k rule's inputs and verdict per k (the logged curve has every column).
K_CHOICE_COLUMNS = (
    "k",
    "silhouette",
    "davies_bouldin",
    "min_cluster_share",
    "stability_ari",
    "verdict",
)
WORTH_COLUMNS = ("revenue_share", "avg_order_value", "revenue_per_customer")


@dataclass(frozen=True)
class Evidence:
    """One feature of a segment as its card shows it: what the name was judged on."""

    typical: float  # the segment's median customer
    overall: float  # the median over all customers
    z: float | None  # the naming z-score (log space), None when not computed
    level: str | None  # very_low .. very_high


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
    evidence: Mapping[str, Evidence] = field(default_factory=dict)  # feature -> evidence
    worth: Mapping[str, float] = field(default_factory=dict)  # revenue_share, avg_order_value, ...
    rule: str | None = None  # a plain rule that finds the segment's customers
    rule_precision: float | None = None
    rule_coverage: float | None = None


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
    k_choice: pd.DataFrame | None = None  # why this k: the rule's inputs and verdict per k
    k_reason: str = ""
    knee: int | None = None
    rules: pd.DataFrame | None = None  # one row per segment: rule, precision, coverage
    worth_note: str = ""  # the headline of what the segments are worth

    @classmethod
    def from_result(
        cls, result: SegmentationResult, run_id: str | None = None, created: str | None = None
    ) -> ReportContext:
        features = tuple(
            c for c in FEATURE_SETS[result.dataset.feature_set] if c in result.profile.columns
        )
        worth = [c for c in WORTH_COLUMNS if c in result.profile.columns]
        segments = result.profile.reset_index()[
            [SEGMENT_ID, SEGMENT_NAME, "n_customers", "share", *worth, *features]
        ]
        overall = {f: float(result.features[f].mean()) for f in features}
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
            k_choice=_k_choice(result.k_curve),
            k_reason=result.k_reason,
            knee=result.knee,
            rules=result.insight.rules,
            worth_note=_worth_note(result),
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


def _k_choice(curve: pd.DataFrame) -> pd.DataFrame | None:
    if curve is None or curve.empty or "chosen" not in curve:
        return None
    return curve[[c for c in (*K_CHOICE_COLUMNS, "well_separated") if c in curve.columns]]


def _worth_note(result: SegmentationResult) -> str:
    from src.insight.worth import worth_sentence

    profile = result.profile
    if "revenue_share" not in profile:
        return ""
    return worth_sentence(profile.rename(columns={"share": "customer_share"}), dict(result.names))


def _evidence(result: SegmentationResult, row: pd.Series, features) -> dict[str, Evidence]:
    out = {}
    for f in features:
        z, level = row.get(f"{f}_z"), row.get(f"{f}_level")
        typical = row.get(f"median_{f}", row[f])
        out[f] = Evidence(
            typical=float(typical),
            overall=float(result.features[f].median()),
            z=None if z is None or pd.isna(z) else float(z),
            level=None if level is None or pd.isna(level) or level == "n/a" else str(level),
        )
    return out


def _cards(result: SegmentationResult, features: tuple[str, ...]):
    products = result.insight.products
    actions = result.insight.actions
    rules = result.insight.rules
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
            evidence=_evidence(result, row, features),
            worth={c: float(row[c]) for c in WORTH_COLUMNS if c in row and pd.notna(row[c])},
            **_rule(rules, seg_id),
        )


def _rule(rules: pd.DataFrame | None, seg_id) -> dict[str, Any]:
    if rules is None or seg_id not in rules.index:
        return {}
    row = rules.loc[seg_id]
    precision = row["precision"]
    return {
        "rule": str(row["rule"]),
        "rule_precision": None if pd.isna(precision) else float(precision),
        "rule_coverage": float(row["coverage"]),
    }

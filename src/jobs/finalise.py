"""Finalise a sweep: refit the chosen configuration on all customers and compute everything
about it (metrics, names, curves over k, figures, stability, business tables).

:func:`finalise` returns a :class:`~src.result.SegmentationResult` and touches no tracking
store: logging, the report, the registry and the console each take the result afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from src.columns import (
    AMOUNT,
    CUSTOMER_ID,
    DESCRIPTION,
    FEATURE_SETS,
    INVOICE_DATE,
    INVOICE_ID,
    IS_RETURN,
    SEGMENT_ID,
    SEGMENT_NAME,
    STOCK_CODE,
)
from src.config.schema import Config, KRule
from src.data import log_rows
from src.data.prepare import Prepared
from src.model.evaluation import (
    KChoiceRule,
    KDecision,
    adjusted_rand,
    choose_k,
    knee_point,
    score_labels,
    silhouette_sample,
    stability_score,
)
from src.model.pipeline import fitted_params
from src.model.segmentation import SegmentationModel
from src.result import Choice, DatasetSummary, FigureId, Insight, SegmentationResult
from src.sweep import study as sw
from src.sweep.objective import cached_pipeline
from src.sweep.sample import sweep_sample
from src.sweep.space import SweepSpace

if TYPE_CHECKING:
    import optuna

DIAGRAM_SAMPLE = 5000  # customers in the silhouette diagram


@dataclass(frozen=True)
class Segments:
    """The refitted model, its labels and what they say about the customers."""

    model: SegmentationModel
    labels: np.ndarray
    metrics: dict[str, float]
    shares: list[float]
    profile: pd.DataFrame  # sizes, means, medians, names, descriptions, levels, z-scores
    names: dict[int, str]
    assignments: pd.DataFrame  # the model's predict() of every customer (id, name, distance)


def finalise(
    options: Config,
    data: Prepared,
    study: optuna.Study,
    space: SweepSpace,
    X_eval: np.ndarray,
    background,
    contract: Mapping[str, Any],
) -> SegmentationResult:
    """The chosen configuration refitted on all customers, with everything computed about it.

    The sweep's best trial picks the configuration whose curve over k the k rule
    (``sweep.k_choice``) judges; the chosen trial is then the best trial at the chosen k (that
    configuration's own trial unless another configuration scored better at that k and is
    stable enough), see :func:`best_at_k`.
    """
    best = sw.best_choice(study)
    # The curve and stability are measured like the trials were: on the sweep's sample.
    sample, sample_eval = sweep_sample(
        data.features, X_eval, options.sweep.fit_sample_size, options.sweep.seed
    )
    curve = sw.k_curve(
        sample,
        sample_eval,
        best.choice,
        space,
        options.sweep.silhouette_sample_size,
        options.sweep.seed,
        known=sw.known_k_metrics(study, best.choice),
    )
    stabilities = StabilityCache(options, sample, space, best.choice)
    decision = decide_k(options, best, curve, stabilities, sw.known_k_metrics(study, best.choice))
    choice, trial, note = best_at_k(options, study, best, decision, stabilities)
    reason = f"{decision.reason} {note}".strip()
    segments = refit(options, data, space, X_eval, choice, contract)
    # Figures render in the drawing process while stability and the insight tables compute.
    pending = draw_figures(
        background, data, segments, X_eval, decision.table, decision.knee, choice, study, options
    )
    metrics = {**segments.metrics, **stabilities.metrics(choice)}
    insight = build_insight(options, data, segments)
    segments.model.segment_actions = {
        int(seg): list(actions) for seg, actions in insight.actions["actions"].items()
    }
    figures = {f: png for f, future in pending.items() if (png := background.result(f, future))}
    return SegmentationResult(
        experiment=options.experiment_name,
        dataset=summarise_dataset(options, data),
        cleaning=None if data.cleaning is None else data.cleaning.to_frame(),
        objective=options.sweep.objective.value,
        min_cluster_share=options.sweep.min_cluster_share,
        choice=choice,
        chosen_trial=trial + 1,
        metrics=metrics,
        shares=tuple(segments.shares),
        fitted_params=fitted_params(segments.model.pipeline),
        trials=sw.trials_frame(study),
        k_curve=decision.table,
        knee=decision.knee,
        profile=segments.profile,
        names=segments.names,
        features=data.features,
        assignments=segments.assignments.rename_axis("customer_id"),
        insight=insight,
        figures=figures,
        model=segments.model,
        warnings=tuple(getattr(data, "warnings", ()) or ()),
        k_reason=reason,
    )


class StabilityCache:
    """Bootstrap stability per configuration, each measured once and seeded; called with k it
    measures the sweep's best configuration at that k (what the k rule asks)."""

    def __init__(self, options: Config, features: pd.DataFrame, space: SweepSpace, choice: Choice):
        self.n_boot = options.sweep.stability_bootstraps
        self.seed = options.sweep.seed
        self.features, self.space, self.choice = features, space, choice
        self.scores: dict[Choice, dict] = {}

    @property
    def enabled(self) -> bool:
        return self.n_boot > 0

    def __call__(self, k: int) -> float:
        return self.of(dataclasses.replace(self.choice, k=k))

    def of(self, choice: Choice) -> float:
        if choice not in self.scores:
            # Through the trials' fit cache: the reference fit is the trial's, and each k of
            # the configuration refits the same outlier step on the same bootstrap samples.
            self.scores[choice] = stability_score(
                lambda: cached_pipeline(self.space, choice),
                self.features,
                n_bootstraps=self.n_boot,
                random_state=self.seed,
            )
        return float(self.scores[choice]["mean"])

    def metrics(self, choice: Choice) -> dict[str, float]:
        """``stability_ari`` and its spread (nothing when switched off)."""
        if not self.enabled:
            return {}
        mean = self.of(choice)
        return {"stability_ari": mean, "stability_ari_std": float(self.scores[choice]["std"])}


def best_at_k(options: Config, study, best, decision: KDecision, stabilities: StabilityCache):
    """The chosen configuration and trial at the ruled k, and a sentence when it changed.

    The k rule judged the curve of the sweep's best configuration, whose best k may differ from
    the ruled one; another configuration may then separate the customers better at that k. The
    best acceptable trial at k is taken when it is at least as good as the best configuration's
    own trial there and (when stability is measured) reaches ``sweep.k_choice.min_stability``.
    """
    own = dataclasses.replace(best.choice, k=decision.k)
    own_trial = sw.trial_of(study, own)
    if options.sweep.k_choice.rule is KRule.objective:
        return own, own_trial if own_trial is not None else best.trial, ""
    for other in sw.best_trials_at(study, decision.k):
        if other.choice == own or other.trial == own_trial:
            break
        if (
            stabilities.enabled
            and stabilities.of(other.choice) < options.sweep.k_choice.min_stability
        ):
            continue
        own_value = next(
            (b.value for b in sw.best_trials_at(study, decision.k) if b.choice == own), None
        )
        versus = "" if own_value is None else f", against {own_value:.3f}"
        return (
            other.choice,
            other.trial,
            f"At k={decision.k} the best trial is {other.choice.describe()} (trial "
            f"{other.trial + 1}, {options.sweep.objective.value} {other.value:.3f}{versus} for "
            f"the configuration whose curve set k), so that configuration is chosen.",
        )
    return own, own_trial if own_trial is not None else best.trial, ""


def decide_k(options: Config, best, curve: pd.DataFrame, stabilities: StabilityCache, known):
    """The k of ``sweep.k_choice`` on the chosen configuration's curve (see README)."""
    cfg = options.sweep.k_choice
    rule = KChoiceRule(
        min_cluster_share=options.sweep.min_cluster_share,
        window=cfg.window,
        tolerance=cfg.tolerance,
        min_stability=cfg.min_stability,
    )
    if cfg.rule is KRule.objective:
        # The best trial's k, as before the k rule; the table marks it.
        chosen = curve["k"] == best.choice.k
        table = curve.assign(chosen=chosen, verdict=chosen.map({True: "chosen", False: ""}))
        knee = (
            knee_point(curve["k"].tolist(), curve["inertia"].tolist()) if len(curve) >= 3 else None
        )
        reason = (
            f"k={best.choice.k}: the best {options.sweep.objective.value} of the sweep "
            "(sweep.k_choice.rule=objective)."
        )
        return KDecision(best.choice.k, knee, table, reason)
    return choose_k(
        curve, rule, stabilities if stabilities.enabled else None, candidates=set(known)
    )


def refit(
    options: Config,
    data: Prepared,
    space: SweepSpace,
    X_eval: np.ndarray,
    choice: Choice,
    contract: Mapping[str, Any],
) -> Segments:
    """Fit ``choice`` on every customer, score it, and name its segments."""
    from src.insight import naming
    from src.insight.worth import segment_worth

    features = data.features
    model = SegmentationModel(space.pipeline(choice), list(features.columns)).fit(features)
    model.contract = dict(contract)
    assignments = model.predict(features)  # one pass: every customer's segment and distance
    labels = assignments[SEGMENT_ID].to_numpy()
    metrics, shares = score_labels(
        model.pipeline,
        features[model.feature_names],
        X_eval,
        labels,
        options.sweep.silhouette_sample_size,
        options.sweep.seed,
    )
    if data.dataset.ground_truth is not None:
        truth = data.dataset.ground_truth.reindex(features.index)
        ok = truth.notna().to_numpy()
        metrics["ground_truth_ari"] = adjusted_rand(truth[ok].astype(str), labels[ok])
    profile = naming.segment_profile(features, labels)
    # Names are judged on each segment's typical (median) customer; the profile has both.
    described = naming.describe_segments(profile, features, options.insight.naming or {})
    worth = segment_worth(features, labels, options.features.monetary.value)
    profile = profile.join(described, how="left").join(
        worth.drop(columns=["n_customers", "customer_share"]), how="left"
    )
    names = {int(seg): str(name) for seg, name in profile[SEGMENT_NAME].items()}
    model.segment_names = names
    assignments[SEGMENT_NAME] = model.name_of(labels)
    return Segments(model, labels, metrics, shares, profile, names, assignments)


def draw_figures(background, data, segments: Segments, X_eval, curve, knee, choice, study, options):
    """Start every figure in the drawing process; FigureId -> future of its PNG."""
    from src.viz.background import draw_sweep_figures

    features = data.features
    sample = silhouette_sample(
        X_eval,
        segments.labels,
        min(options.sweep.silhouette_sample_size, DIAGRAM_SAMPLE),
        options.sweep.seed,
    )
    return draw_sweep_figures(
        background,
        profile=segments.profile[list(features.columns)],
        names=segments.names,
        features=features,
        labels=segments.labels,
        X_eval=X_eval,
        curve=curve,
        knee=knee,
        chosen_k=choice.k,
        silhouette_sample=sample,
        silhouette=segments.metrics.get("silhouette"),
        trials=study.get_trials(),
        directions=[d.name.lower() for d in study.directions],
    )


# The cleaned log's columns read after the features: product picks (customer, product, its
# description, amount; returns are flagged when kept) and the value model (dates, amounts).
INSIGHT_COLUMNS = frozenset(
    {CUSTOMER_ID, STOCK_CODE, DESCRIPTION, AMOUNT, INVOICE_DATE, IS_RETURN, INVOICE_ID}
)


def build_insight(options: Config, data: Prepared, segments: Segments) -> Insight:
    """RFM-score baseline, playbook and product picks (tables for MLflow and the report)."""
    from src.insight import recommend, rfm_score, rules

    features = data.features
    cfg = options.insight
    seg_names = pd.Series(
        segments.model.name_of(segments.labels), index=features.index, name="segment"
    )
    actions = recommend.playbook_actions(segments.names, cfg.playbook or {})
    segment_rules = rules.segment_rules(
        features,
        segments.labels,
        segments.names,
        max_depth=cfg.rules_max_depth,
        min_leaf_share=cfg.rules_min_leaf_share,
        random_state=options.sweep.seed,
        fit_sample_size=options.sweep.fit_sample_size,
    )
    tables: dict[str, pd.DataFrame] = {"segment_actions": actions, "segment_rules": segment_rules}
    crosstab = None
    if all(c in features for c in FEATURE_SETS["rfm"]):
        scores = rfm_score.rfm_scores(features)
        crosstab = rfm_score.score_crosstab(seg_names, scores["score_segment"])
        tables["rfm_scores"] = scores
        tables["cluster_vs_rfm_score"] = crosstab
    products, note = None, None
    try:
        if data.transactions is None:
            raise recommend.NoProductData(
                "Product recommendations need a transaction log with a stock_code column; "
                f"dataset '{options.dataset.name}' is a per-customer table."
            )
        # The log's purchase lines reduced once; the three product tables share them.
        lines = recommend.product_lines(data.transactions, seg_names)
        products = recommend.segment_top_products(
            lines,
            seg_names,
            top_n=cfg.top_products,
            min_support=cfg.min_support,
        )
        tables["segment_top_products"] = products
        tables["popular_overall"] = recommend.popular_overall(
            lines, seg_names, top_n=cfg.top_products
        )
        tables["customer_recommendations"] = recommend.customer_recommendations(
            lines,
            seg_names,
            top_n=cfg.recommendations_per_customer,
            candidates=products,
        )
    except recommend.NoProductData as exc:
        note = str(exc)
    return Insight(
        tables=tables,
        actions=actions,
        rfm_crosstab=crosstab,
        products=products,
        products_note=note,
        rules=segment_rules,
    )


def summarise_dataset(options: Config, data: Prepared) -> DatasetSummary:
    ds = data.dataset
    return DatasetSummary(
        name=options.dataset.name,
        source=ds.source,
        kind=ds.kind,
        customers=len(data.features),
        fingerprint=data.fingerprint,
        feature_set=options.features.name.value,
        snapshot=data.snapshot,
        rows_after_cleaning=None if data.transactions is None else log_rows(data.transactions),
    )


__all__ = ["FigureId", "Segments", "finalise"]

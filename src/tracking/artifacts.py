"""What each job logs to MLflow, and under which artifact path: one table for all of them.

The sweep logs in two steps around the trials: :func:`log_sweep_start` (config, cleaning, the
feature table as the run's training input) and :func:`log_sweep_result` (everything the
finalise step computed, from a :class:`~src.result.SegmentationResult`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from src.config import flatten
from src.result import FigureId, SegmentationResult
from src.tracking.tracker import Tracker, mask_credentials, mask_values

# Every artifact path, parent runs first, then child runs.
RESOLVED_CONFIG = "config/resolved_config.yaml"
CLEANING_REPORT = "cleaning/cleaning_report.csv"
TRIALS_TABLE = "sweep/trials.csv"
K_CURVE = "curves/k_curve.csv"
SEGMENT_PROFILES = "segments/segment_profiles.csv"
CUSTOMER_SEGMENTS = "segments/customer_segments.csv"
REPORT = "report/segmentation_report.html"
FIGURE = "figures/{}.png"  # FigureId value
INSIGHT_TABLE = "insight/{}.csv"  # Insight.tables key
EDA_TABLE = "eda/{}.csv"
EDA_FIGURE = "eda/{}.png"
MIGRATION_DIR = "migration"
VALUE_CUSTOMERS = "value/customer_value.csv"  # per customer: BTYD summary, P(alive), CLV
VALUE_SEGMENTS = "value/segment_value.csv"  # per segment: totals, means, value at risk
VALUE_PARAMS = "value/value_model.json"  # the fitted parameters and settings (plain data)
VALUE_HOLDOUT = "value/holdout_customers.csv"  # holdout: actual and predicted per customer
VALUE_CALIBRATION = "value/holdout_calibration.csv"
TRIAL_RADAR = "radar.png"
TRIAL_PIPELINE = "pipeline.skops"

# Config keys logged as params of the parent run. The swept groups' composed options are left
# out: they are only the base of the search space, and the chosen ones are logged as chosen.*.
_PARENT_PARAM_SKIP = ("outliers.", "scaler.", "model.", "insight.", "hydra.")


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of every value and index label of a table (MLflow's own hashes a sample)."""
    hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    columns = "\x1f".join(map(str, frame.columns)).encode()
    return hashlib.sha256(hashed.tobytes() + columns).hexdigest()[:16]


def log_sweep_start(
    tracker: Tracker,
    resolved: Mapping[str, Any],
    config_yaml: str,
    features: pd.DataFrame,
    dataset_name: str,
    dataset_source: str,
    cleaning: Any,
) -> None:
    """Config (params and YAML), cleaning report and the feature table as training input.

    Credentials in URLs (a token in ``dataset.url``, a password in ``sweep.storage``) are
    masked in all of it.
    """
    params = {
        k: mask_values(v)
        for k, v in flatten(resolved).items()
        if not k.startswith(_PARENT_PARAM_SKIP)
    }
    tracker.log_params(params)
    tracker.log_text(mask_credentials(config_yaml), RESOLVED_CONFIG)
    if cleaning is not None:
        tracker.log_frame(cleaning.to_frame(), CLEANING_REPORT)
        tracker.log_metrics(cleaning.to_dict())
    tracker.log_metrics({"n_customers": len(features)})
    tracker.log_input(
        features,
        name=f"{dataset_name}-customer-features",
        source=mask_credentials(dataset_source),
        digest=frame_digest(features),
        context="training",
    )


def log_sweep_result(tracker: Tracker, result: SegmentationResult) -> None:
    """Everything the finalise step computed, under the parent run.

    Metrics of the chosen configuration carry the same names as the child runs' metrics, so one
    column of the MLflow UI sorts trials and sweeps alike.
    """
    tracker.log_params(
        {
            **{f"chosen.{k}": v for k, v in result.choice.as_dict().items()},
            **{f"chosen.{k}": v for k, v in result.fitted_params.items()},
        }
    )
    tracker.log_metrics(dict(result.metrics))
    tracker.log_metrics({f"share.segment_{i}": s for i, s in enumerate(result.shares)})
    tracker.set_tags(
        {
            "best_trial": result.chosen_trial,
            "best_config": result.choice.describe(),
            "best_k": result.choice.k,
        }
    )
    for row in result.k_curve.itertuples(index=False):
        tracker.log_metrics(
            {"curve.inertia": row.inertia, "curve.silhouette": row.silhouette}, step=int(row.k)
        )
    tracker.log_frame(result.trials, TRIALS_TABLE)
    tracker.log_frame(result.k_curve.set_index("k"), K_CURVE)
    for figure, png in result.figures.items():
        tracker.log_bytes(png, FIGURE.format(FigureId(figure).value), None)
    tracker.log_frame(result.profile, SEGMENT_PROFILES)
    tracker.log_frame(result.assignments, CUSTOMER_SEGMENTS)
    for name, frame in result.insight.tables.items():
        tracker.log_frame(frame, INSIGHT_TABLE.format(name))
    if result.lifetime_value is not None:
        log_value(tracker, result.lifetime_value)
    tracker.describe(describe_result(result))


def log_value(tracker: Tracker, value) -> None:
    """The customer value model (src.value.job.LifetimeValue): its metrics (``value.*``, the
    holdout errors among them), tables and parameters; its figures are in the result's."""
    import json

    from src.value.job import value_state

    tracker.log_metrics(dict(value.metrics))
    tracker.log_frame(value.customers, VALUE_CUSTOMERS)
    tracker.log_frame(value.segments, VALUE_SEGMENTS)
    tracker.log_text(json.dumps(value_state(value), indent=1), VALUE_PARAMS)
    if value.holdout is not None:
        tracker.log_frame(value.holdout.customers, VALUE_HOLDOUT)
        tracker.log_frame(value.holdout.calibration, VALUE_CALIBRATION)


def describe_result(result: SegmentationResult) -> str:
    """The parent run's description: what was segmented, what was chosen, what came out."""
    segments = ", ".join(
        f"{row.segment_name} {row.share:.0%}" for row in result.profile.itertuples(index=False)
    )
    return (
        f"{result.dataset.feature_set.upper()} segments of {result.dataset.name} "
        f"({result.dataset.customers:,} customers). Chosen: {result.choice.describe()}, "
        f"{result.objective} {result.value:.4f} (trial {result.chosen_trial}). "
        f"Segments: {segments}."
    )


def log_report(tracker: Tracker, html: str) -> None:
    tracker.log_text(html, REPORT)


def log_eda(
    tracker: Tracker,
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, bytes],
    metrics: Mapping[str, float],
    config_yaml: str,
    cleaning: Any,
) -> None:
    """The exploratory analysis: its tables, figures and headline numbers."""
    tracker.log_text(mask_credentials(config_yaml), RESOLVED_CONFIG)
    if cleaning is not None:
        tracker.log_frame(cleaning.to_frame(), CLEANING_REPORT)
        tracker.log_metrics(cleaning.to_dict())
    tracker.log_metrics(metrics)
    for name, frame in tables.items():
        tracker.log_frame(frame, EDA_TABLE.format(name))
    for name, png in figures.items():
        tracker.log_bytes(png, EDA_FIGURE.format(name), None)


def log_migration(tracker: Tracker, model_uri: str, result, paths: Mapping[str, Path]) -> str:
    """One run (of experiment ``segment-migration``) with the matrix, flows and heatmap."""
    before, after = result.before.date(), result.after.date()
    with tracker.parent_run(
        f"migration-{before}-to-{after}",
        {"model_uri": model_uri, "before": before, "after": after},
    ) as run_id:
        tracker.log_metrics(
            {
                "customers_at_both_dates": float(result.customers),
                "kept_segment": float(result.kept),
            }
        )
        for p in paths.values():
            tracker.log_file(p, MIGRATION_DIR)
    return run_id

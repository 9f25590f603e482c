"""What each job logs, and under which artifact path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from src.tracking.tracker import Tracker, resolve_tracking_uri


def log_migration(
    tracking_uri: str | None, model_uri: str, result: Mapping[str, Any], paths: Mapping[str, Path]
) -> str:
    """One run in experiment `segment-migration` with the matrix, flows and heatmap."""
    tracker = Tracker(resolve_tracking_uri(tracking_uri), "segment-migration")
    before, after = result["before"].date(), result["after"].date()
    run_id = tracker.start_parent(
        f"migration-{before}-to-{after}",
        {"model_uri": model_uri, "before": before, "after": after},
    )
    try:
        tracker.log_metrics(
            {
                "customers_at_both_dates": float(result["customers"]),
                "kept_segment": float(result["kept"]),
            }
        )
        for p in paths.values():
            tracker.log_file(p, "migration")
    finally:
        tracker.end_parent()
    return run_id

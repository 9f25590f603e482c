"""A child run per trial, written off the sweep's path by the writer thread."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import joblib
import pandas as pd
from mlflow.entities import Metric, Param, RunTag

from src.tracking.tracker import MAX_PARAM_LEN, Tracker


def log_trial(
    tracker: Tracker,
    number: int,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    state: str,
    note: str | None,
    start_ms: int,
    end_ms: int,
) -> str:
    """One finished trial as a child run: three store calls, made off the sweep's path.

    state: complete, rejected or failed; failed trials end as FAILED runs.
    """
    run = tracker.client.create_run(
        tracker.experiment_id,
        start_time=start_ms,
        run_name=f"trial-{number + 1:03d}",
        tags={"mlflow.parentRunId": tracker.parent_id, "optuna_trial_number": str(number)},
    )
    tags = [RunTag("trial_state", state)]
    if note:
        tags.append(RunTag("trial_note", note[:5000]))
    tracker.client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), end_ms, 0) for k, v in metrics.items() if pd.notna(v)],
        params=[Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in params.items()],
        tags=tags,
    )
    tracker.client.set_terminated(
        run.info.run_id, "FAILED" if state == "failed" else "FINISHED", end_time=end_ms
    )
    return run.info.run_id


def log_trial_pipeline(tracker: Tracker, run_id: str, pipeline) -> None:
    buf = io.BytesIO()
    joblib.dump(pipeline, buf)
    tracker.log_bytes(buf.getvalue(), "pipeline.joblib", run_id)

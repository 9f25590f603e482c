"""A child run per trial: what was fitted, how it scored, its radar chart and fitted pipeline.

:class:`TrialLogger` is one of the sweep's trial hooks. Runs are written on the writer thread of
``src.viz.background.Background`` so the sweep's own thread only fits and scores.
"""

from __future__ import annotations

import zipfile
from typing import Any

import pandas as pd
import skops.io
from mlflow.entities import Metric, Param, RunTag

from src.model.pipeline import fitted_params
from src.result import Choice
from src.sweep.objective import TrialHooks, TrialRecord
from src.tracking.artifacts import TRIAL_PIPELINE, TRIAL_RADAR
from src.tracking.tracker import MAX_PARAM_LEN, NOTE, Tracker, now_ms


def trial_run_name(number: int, choice: Choice) -> str:
    """``trial-007 none + log_standard + kmeans (k=6)``: what the run fitted, in its name."""
    return f"trial-{number + 1:03d} {choice.describe()}"


def trial_params(choice: Choice, pipeline) -> dict[str, Any]:
    """The swept choices plus every parameter of every step as it was fitted."""
    params: dict[str, Any] = choice.as_dict()
    if pipeline is not None:
        params.update(fitted_params(pipeline))
    return params


class TrialLogger(TrialHooks):
    """Writes a child run of the sweep's parent run for every finished trial."""

    def __init__(
        self, tracker: Tracker, background, features: pd.DataFrame, space, artifacts: bool
    ):
        self.tracker = tracker
        self.background = background
        self.features = features
        self.space = space
        self.artifacts = artifacts
        self.started_ms: dict[int, int] = {}
        self.run_ids: dict[int, Any] = {}  # trial number -> future of its child run id

    def started(self, number: int, choice: Choice) -> None:
        self.started_ms[number] = now_ms()

    def finished(self, record: TrialRecord) -> None:
        pipeline = record.outcome.pipeline if record.outcome is not None else self._unfitted(record)
        radar = None
        if self.artifacts and record.outcome is not None:
            from src.viz.background import png

            profile = self.features.groupby(record.outcome.labels).mean()
            radar = self.background.draw(
                f"trial {record.number + 1} radar",
                png,
                "profiles.radar_chart",
                profile,
                population=self.features,
            )
        start = self.started_ms.pop(record.number, now_ms())
        self.run_ids[record.number] = self.background.write(
            f"trial {record.number + 1}", self._write, record, pipeline, radar, start, now_ms()
        )

    def _unfitted(self, record: TrialRecord):
        try:
            return self.space.pipeline(record.choice)
        except Exception:  # the configuration itself is broken; the note says why
            return None

    def _write(self, record: TrialRecord, pipeline, radar, start_ms: int, end_ms: int) -> str:
        client, tracker = self.tracker.client, self.tracker
        run = client.create_run(
            tracker.experiment_id,
            start_time=start_ms,
            run_name=trial_run_name(record.number, record.choice),
            tags={"mlflow.parentRunId": tracker.parent_id},
        )
        run_id = run.info.run_id
        tags = {
            "trial": record.number + 1,
            "optuna_trial_number": record.number,
            "trial_state": record.state,
            "trial_source": "k refinement" if record.refinement else "sampler",
        }
        if record.repeat_of is not None:
            tags["repeat_of_trial"] = record.repeat_of + 1
        if record.note:
            tags["trial_note"] = record.note[:5000]
            tags[NOTE] = record.note.splitlines()[-1][:500]
        metrics = dict(record.metrics)
        metrics.update({f"share.segment_{i}": s for i, s in enumerate(record.shares)})
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), end_ms, 0) for k, v in metrics.items() if pd.notna(v)],
            params=[
                Param(k, str(v)[:MAX_PARAM_LEN])
                for k, v in trial_params(record.choice, pipeline).items()
            ],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        if record.outcome is not None and self.artifacts:
            png = self.background.result(f"trial {record.number + 1} radar", radar)
            if png is not None:
                tracker.log_bytes(png, TRIAL_RADAR, run_id)
            # skops, like the registered model: no pickle in the store (load it with
            # skops.io.load(path, trusted=src.model.segmentation.TRUSTED_TYPES)).
            data = skops.io.dumps(record.outcome.pipeline, compression=zipfile.ZIP_DEFLATED)
            tracker.log_bytes(data, TRIAL_PIPELINE, run_id)
        client.set_terminated(
            run_id, "FAILED" if record.state == "failed" else "FINISHED", end_time=end_ms
        )
        return run_id

    def mark_chosen(self, number: int) -> None:
        """Tag the child run of the chosen trial, so the UI can filter on it."""
        future = self.run_ids.get(number)
        run_id = None if future is None else self.background.result(f"trial {number + 1}", future)
        if run_id is not None:
            self.tracker.set_tags({"chosen": "true"}, run_id)

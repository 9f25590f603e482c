"""A child run per trial: what was fitted, how it scored, its radar chart and fitted pipeline.

:class:`TrialLogger` is one of the sweep's trial hooks. The run is created on the records thread
of ``src.viz.background.Background`` while the trial fits; when the trial has finished, its
params, metrics, state and end status are written on that thread and waited for before the trial
returns to Optuna, so a trial Optuna records as finished always has its child run (a process
killed right after still leaves both stores in agreement). The radar chart and the fitted
pipeline follow on the artifacts thread while the next trial fits; the records thread never
waits behind them (the radar chart waits for the drawing process, the pipeline for its skops
dump and upload).

A trial whose process died has a RUNNING child run (or none, if it died before the run was
created); :meth:`TrialLogger.killed` ends it KILLED, creating it if needed, so every Optuna
trial that tried a configuration has exactly one child run.
"""

from __future__ import annotations

import zipfile
from concurrent.futures import Future
from typing import Any

import pandas as pd
import skops.io
from mlflow.entities import Metric, Param, RunTag

from src.model.pipeline import fitted_params
from src.result import Choice
from src.sweep.objective import FAILED, INTERRUPTED, SURPLUS, TrialHooks, TrialRecord
from src.tracking.artifacts import TRIAL_PIPELINE, TRIAL_RADAR
from src.tracking.tracker import MAX_PARAM_LEN, NOTE, Tracker, now_ms

TRIAL_NUMBER_TAG = "optuna_trial_number"
STUDY_TAG = "optuna_study"
# MLflow status of a child run per trial state (complete and rejected trials are results).
RUN_STATUS = {FAILED: "FAILED", INTERRUPTED: "KILLED"}


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
    """Writes a child run of the sweep's parent run for every trial of study ``study_name``."""

    def __init__(
        self,
        tracker: Tracker,
        background,
        features: pd.DataFrame,
        space,
        artifacts: bool,
        study_name: str = "",
    ):
        self.tracker = tracker
        self.background = background
        self.features = features
        self.space = space
        self.artifacts = artifacts
        self.study_name = study_name
        self.created: dict[int, Future] = {}  # trial number -> future of its new child run id
        self.run_ids: dict[int, str | None] = {}  # trial number -> child run id, once written
        # Params of configurations logged without a fit (repeats, failures), built once each.
        self._configured: dict[Choice, dict[str, Any]] = {}

    def started(self, number: int, choice: Choice) -> None:
        self.created[number] = self.background.record(
            f"trial {number + 1}", self._create, number, choice, now_ms()
        )

    def finished(self, record: TrialRecord) -> None:
        what = f"trial {record.number + 1}"
        created = self.created.pop(record.number, None)
        if created is None:
            created = self.background.record(
                what, self._create, record.number, record.choice, now_ms()
            )
        if record.outcome is not None:
            params = trial_params(record.choice, record.outcome.pipeline)
        else:
            params = self._configured_params(record.choice)
        written = self.background.record(what, self._record, record, params, created, now_ms())
        # Durable before Optuna hears of the trial: wait for the run's record.
        run_id = self.background.result(what, written)
        self.run_ids[record.number] = run_id
        if run_id is not None and self.artifacts and record.outcome is not None:
            from src.viz.background import png

            profile = self.features.groupby(record.outcome.labels).mean()
            radar = self.background.draw(
                f"{what} radar", png, "profiles.radar_chart", profile, population=self.features
            )
            self.background.write(what, self._artifacts, record, run_id, radar)

    def _configured_params(self, choice: Choice) -> dict[str, Any]:
        """The params of an unfitted configuration (the sampler repeats a few of them often)."""
        if choice not in self._configured:
            try:
                pipeline = self.space.pipeline(choice)
            except Exception:  # the configuration itself is broken; the note says why
                pipeline = None
            self._configured[choice] = trial_params(choice, pipeline)
        return self._configured[choice]

    def _identity(self, number: int) -> dict[str, str]:
        return {
            "mlflow.parentRunId": self.tracker.parent_id or "",
            "trial": str(number + 1),
            TRIAL_NUMBER_TAG: str(number),
            STUDY_TAG: self.study_name,
        }

    def _create(self, number: int, choice: Choice, start_ms: int) -> str:
        return self.tracker.client.create_run(
            self.tracker.experiment_id,
            start_time=start_ms,
            run_name=trial_run_name(number, choice),
            tags=self._identity(number),
        ).info.run_id

    def _record(
        self, record: TrialRecord, params: dict[str, Any], created: Future, end_ms: int
    ) -> str | None:
        client = self.tracker.client
        run_id = created.result()  # created earlier on this same thread
        if run_id is None:
            return None
        tags = {
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
            params=[Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in params.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        client.set_terminated(run_id, RUN_STATUS.get(record.state, "FINISHED"), end_time=end_ms)
        return run_id

    def _artifacts(self, record: TrialRecord, run_id: str, radar: Future) -> None:
        png = self.background.result(f"trial {record.number + 1} radar", radar)
        if png is not None:
            self.tracker.log_bytes(png, TRIAL_RADAR, run_id)
        # skops, like the registered model: no pickle in the store (load it with
        # skops.io.load(path, trusted=src.model.segmentation.TRUSTED_TYPES)).
        data = skops.io.dumps(record.outcome.pipeline, compression=zipfile.ZIP_DEFLATED)
        self.tracker.log_bytes(data, TRIAL_PIPELINE, run_id)

    def run_of(self, number: int) -> str | None:
        """The child run of trial ``number``, written by this process or another one."""
        if self.run_ids.get(number):
            return self.run_ids[number]
        runs = self.tracker.client.search_runs(
            [self.tracker.experiment_id],
            filter_string=(
                f"tags.`mlflow.parentRunId` = '{self.tracker.parent_id}' "
                f"and tags.{TRIAL_NUMBER_TAG} = '{number}'"
            ),
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def killed(self, trial) -> None:
        """Trial ``trial`` (an Optuna FrozenTrial) died with its process: end its child run
        KILLED, so MLflow agrees with Optuna's FAIL (a retry gets a run of its own)."""
        if trial.user_attrs.get("state") == SURPLUS:
            return
        note = "its process died (no heartbeat or no such process); the trial is retried"
        run_id = self.run_of(trial.number)
        client = self.tracker.client
        if run_id is None:
            choice = Choice.of(trial.params) if len(trial.params) == 4 else None
            name = (
                trial_run_name(trial.number, choice)
                if choice is not None
                else f"trial-{trial.number + 1:03d}"
            )
            run_id = client.create_run(
                self.tracker.experiment_id,
                run_name=name,
                tags=self._identity(trial.number),
            ).info.run_id
            client.log_batch(run_id, params=[Param(k, str(v)) for k, v in trial.params.items()])
        client.log_batch(
            run_id,
            tags=[RunTag("trial_state", "killed"), RunTag("trial_note", note), RunTag(NOTE, note)],
        )
        client.set_terminated(run_id, "KILLED")

    def mark_chosen(self, number: int) -> None:
        """Tag the child run of the chosen trial, so the UI can filter on it."""
        run_id = self.run_of(number)
        if run_id is not None:
            self.tracker.set_tags({"chosen": "true"}, run_id)

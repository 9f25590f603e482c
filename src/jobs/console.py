"""What the jobs print: progress lines while a sweep runs and the summary at the end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from src.result import Choice, SegmentationResult
from src.sweep.objective import TrialHooks, TrialRecord

RULE = "=" * 78
SUMMARY_METRICS = (
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "inertia",
    "min_cluster_share",
    "stability_ari",
    "ground_truth_ari",
)


_last_said = [time.monotonic()]


def say(msg: str = "") -> None:
    print(msg, flush=True)
    _last_said[0] = time.monotonic()


def silent_for() -> float:
    """Seconds since the job last printed a line."""
    return time.monotonic() - _last_said[0]


def data_summary(options, data) -> None:
    """Customers, features and fingerprint; the cleaning rules; data-quality warnings."""
    features = data.features
    say(
        f"[{options.experiment_name}] {len(features):,} customers x {features.shape[1]} features "
        f"({options.features.name.value}); data fingerprint {data.fingerprint}"
    )
    if data.cleaning is not None:
        for step in data.cleaning.steps:
            say(f"    cleaning {step.rule:<28} -{step.rows_removed:>9,}  -> {step.rows_out:,} rows")
    for line in getattr(data, "warnings", ()) or ():
        say(f"  warning: {line}")


class Progress(TrialHooks):
    """One line per finished trial: number, how far the sweep is, configuration, score, state.

    ``[12/30]`` counts the distinct configurations fitted towards ``sweep.n_trials`` (by every
    process of the sweep: the trial's place among them); a repeat the sampler proposed shows
    ``[ rep ]`` and the k refinement ``[k 3/8]``.
    """

    def __init__(self, objective: str, target: int, done: int = 0):
        self.objective = objective
        self.target = target
        self.done = done
        self.refined, self.to_refine = 0, 0
        self.since, self.fitted = time.perf_counter(), 0

    def left(self) -> str:
        """The expected time to the last configuration, from this process's pace so far."""
        remaining = (self.target - self.done) + (self.to_refine - self.refined)
        if not self.fitted or remaining <= 0:
            return ""
        pace = (time.perf_counter() - self.since) / self.fitted
        return f"  ~{pace * remaining:.0f} s left"

    def refining(self, queued: int) -> None:
        self.refined, self.to_refine = 0, queued

    def finished(self, record: TrialRecord) -> None:
        if record.repeat_of is not None:
            where = " rep "
        elif record.refinement:
            self.refined += 1
            where = f"k {self.refined}/{self.to_refine}" if self.to_refine else "  k  "
        else:
            self.done = max(self.done + 1, record.position or 0)
            where = f"{record.position or self.done}/{self.target}"
        if record.repeat_of is None:
            self.fitted += 1
        if record.metrics:
            detail = (
                f"{self.objective}={record.metrics[self.objective]:.4f}  smallest segment "
                f"{record.metrics['min_cluster_share']:.1%}"
            )
            if record.repeat_of is not None:
                detail += f"  (repeat of trial {record.repeat_of + 1}, not refitted)"
        else:
            detail = (record.note or "").splitlines()[-1][:90] if record.note else ""
        say(
            f"  trial {record.number + 1:>3} [{where:>7}]  {record.choice.describe():<50} "
            f"{detail}  [{record.state}]{self.left()}"
        )


def best(choice: Choice, trial: int, objective: str, value: float) -> None:
    say(f"\nBest: trial {trial}, {choice.describe()}, {objective}={value:.4f}")


def summary(
    result: SegmentationResult,
    *,
    parent_run_id: str,
    experiment: str,
    registration,
    model_uri: str,
    report_paths: Sequence[Path],
    ui_hint: str,
) -> None:
    m = result.metrics
    say(RULE)
    say(f"Best configuration : {result.choice.describe()}")
    say("Metrics            : " + ", ".join(f"{k}={m[k]:.4g}" for k in SUMMARY_METRICS if k in m))
    say("Segments           :")
    for seg_id, row in result.profile.iterrows():
        say(
            f"    {seg_id}: {row['segment_name']:<32} {int(row['n_customers']):>8,} customers "
            f"({row['share']:.1%})"
        )
    say(f"Parent run         : {parent_run_id} (experiment '{experiment}')")
    if registration is not None:
        say(
            f"Registered model   : {registration.name} v{registration.version} -> "
            f"@{registration.alias} ({registration.reason})"
        )
        say(f"Load it with       : models:/{registration.name}@{registration.alias}")
    else:
        say(f"Model              : {model_uri} (not registered: mlflow.register=false)")
    for path in report_paths:
        say(f"Report             : {path}")
    say(f"Open the UI with   : {ui_hint}")
    say(RULE)

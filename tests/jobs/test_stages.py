"""Stage timings: printed when a stage ends, kept as run metrics, and told while it runs."""

from __future__ import annotations

import time

import pytest

from src.jobs.stages import Stages


def test_a_finished_stage_is_printed_and_kept_as_a_metric():
    lines: list[str] = []
    stages = Stages(say=lines.append)
    with stages("sweep"):
        pass
    assert lines == [f"  [sweep: {stages.seconds['sweep']:.1f} s]"]
    assert set(stages.metrics()) == {"stage_seconds.sweep"}


def test_a_long_stage_says_how_long_it_has_run_and_what_is_expected():
    lines: list[str] = []
    stages = Stages(tick=0.05, say=lines.append, silent_for=lambda: 1.0)
    with stages("finalise", expected=40):
        time.sleep(0.3)
    running = [line for line in lines if "so far" in line]
    assert running, lines
    assert all("finalise" in line and "expected about 40 s" in line for line in running)


def test_a_failing_stage_is_timed_and_the_error_passes():
    stages = Stages(say=lambda _: None)
    with pytest.raises(ValueError), stages("load"):
        raise ValueError("bad file")
    assert "load" in stages.seconds


def test_stage_metric_names_are_valid_mlflow_keys():
    stages = Stages(say=lambda _: None)
    with stages("logging, report, registry"):
        pass
    assert list(stages.metrics()) == ["stage_seconds.logging_report_registry"]


def test_a_stage_that_prints_its_own_progress_gets_no_extra_lines():
    lines: list[str] = []
    stages = Stages(tick=0.05, say=lines.append, silent_for=lambda: 0.0)
    with stages("sweep"):
        time.sleep(0.3)
    assert not [line for line in lines if "so far" in line]

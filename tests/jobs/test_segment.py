"""What the sweep job refuses before any trial runs, and the one error when every trial
failed alike."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest

from src.config import compose_config
from src.config.schema import KRange, SweepConfig
from src.errors import SegmentationError
from src.jobs.segment import (
    check_sweep_fits_data,
    fail_when_every_trial_failed,
    load_options,
    report_paths,
)
from src.sweep.objective import FAILED, REASON, STATE
from src.sweep.space import sweep_space

FEATURES = pd.DataFrame(
    {
        "recency_days": [1.0, 5.0, 9.0, 30.0, 60.0, 90.0],
        "frequency": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "monetary": [10.0, 20.0, 35.0, 50.0, 80.0, 120.0],
    }
)


def space(*overrides: str, runtime: dict | None = None):
    cfg = compose_config("config", "+experiment=rfm", *overrides)
    load_options(cfg)
    return sweep_space(cfg, runtime or {}, list(overrides))


def test_more_segments_than_customers_is_refused_up_front():
    sweep = SweepConfig(k=KRange(low=2, high=8))
    with pytest.raises(SegmentationError, match="sweep.k.high=8 but the data has 6 customers"):
        check_sweep_fits_data(sweep, FEATURES, space())


def test_features_that_are_all_constant_are_named():
    constant = pd.DataFrame({"recency_days": [3.0] * 20, "frequency": [1.0] * 20})
    with pytest.raises(SegmentationError, match="Every feature is constant"):
        check_sweep_fits_data(SweepConfig(k=KRange(low=2, high=4)), constant, space())


def test_an_invalid_model_parameter_is_named_before_any_trial():
    with pytest.raises(SegmentationError, match="n_init"):
        check_sweep_fits_data(
            SweepConfig(k=KRange(low=2, high=4)),
            FEATURES,
            space("model=kmeans", "model.n_init=-1", runtime={"model": "kmeans"}),
        )


def test_segments_that_cannot_reach_the_minimum_share_are_refused():
    sweep = SweepConfig(k=KRange(low=4, high=5), min_cluster_share=0.3)
    with pytest.raises(SegmentationError, match="sweep.k.low=4 segments cannot each hold"):
        check_sweep_fits_data(sweep, FEATURES, space())


def test_every_trial_failing_alike_shows_that_error():
    study = optuna.create_study()
    for _ in range(2):
        trial = study.ask()
        trial.suggest_int("k", 2, 3)
        trial.set_user_attr(STATE, FAILED)
        trial.set_user_attr(REASON, "ValueError: bad thing")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    with pytest.raises(SegmentationError, match="same error: ValueError: bad thing"):
        fail_when_every_trial_failed(study)


def test_a_report_path_naming_a_folder_is_refused_before_any_work(tmp_path):
    options = load_options(compose_config("config", f"report.path={tmp_path}"))
    with pytest.raises(SegmentationError, match=f"report.path={tmp_path} is a folder"):
        report_paths(options)


def test_a_report_path_naming_an_existing_file_says_it_will_be_replaced(tmp_path, capsys):
    existing = tmp_path / "report.html"
    existing.write_text("an earlier report")
    options = load_options(compose_config("config", f"report.path={existing}"))
    assert report_paths(options) == (existing,)
    assert f"will replace the existing file {existing}" in capsys.readouterr().out
    assert existing.read_text() == "an earlier report"  # nothing written before the sweep

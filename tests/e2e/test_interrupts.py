"""The real sweep process stopped by Ctrl-C, and two sweeps started at once on one new sqlite
store: clean exits, and MLflow and Optuna agreeing on every trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from src.config import PROJECT_ROOT
from src.sweep.objective import STATE, SURPLUS
from src.sweep.storage import open_storage
from src.sweep.study import fitted_configurations
from src.tracking.trials import TRIAL_NUMBER_TAG

pytestmark = pytest.mark.slow

SMALL = [
    "+experiment=lrfmc",
    "dataset.n_customers=1200",
    "sweep.stability_bootstraps=2",
    "sweep.k.low=3",
    "sweep.k.high=8",
    "sweep.search_space.outliers=[none,iqr_clip,quantile_clip]",
    "sweep.search_space.scaler=[log_standard,robust]",
    "sweep.search_space.model=[kmeans,minibatch_kmeans]",
    "sweep.log_trial_artifacts=false",
    "sweep.refine_k=false",
]


def start(tmp_path, tag: str, *overrides: str) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    env.pop("OPTUNA_STORAGE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "src.run", f"hydra.run.dir={tmp_path / tag}", *SMALL, *overrides],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def studies(tmp_path) -> list[optuna.Study]:
    """The studies of the store, opened the way the sweep opens it: under its file lock, so
    this process never races the sweep in creating the tables of a new store."""
    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    return [
        optuna.load_study(study_name=s.study_name, storage=storage)
        for s in optuna.get_all_study_summaries(storage)
    ]


def assert_stores_agree(tmp_path, study: optuna.Study) -> None:
    """Every trial that proposed a configuration has one child run, in the same state."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = study.user_attrs["mlflow_parent_run_id"]
    experiment = client.get_run(parent).info.experiment_id
    runs = client.search_runs(
        [experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'", max_results=500
    )
    by_number = {int(r.data.tags[TRIAL_NUMBER_TAG]): r for r in runs}
    assert len(by_number) == len(runs)
    for t in study.get_trials():
        if t.user_attrs.get(STATE) == SURPLUS:
            assert t.number not in by_number
            continue
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            run = by_number[t.number]
            assert run.info.status == "FINISHED", (t.number, t.user_attrs)
            assert run.data.tags["trial_state"] == t.user_attrs[STATE]


def test_ctrl_c_mid_sweep_exits_130_with_the_parent_killed_and_both_stores_agreeing(tmp_path):
    proc = start(tmp_path, "run", "sweep.n_trials=60", "experiment_name=interrupted")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            found = (tmp_path / "optuna.db").exists() and studies(tmp_path)
            if found and fitted_configurations(found[0]) >= 3:
                break
        except Exception:  # the sweep holds the write lock right now
            pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)  # an impatient second Ctrl-C
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert "sweep.resume=true" in stdout
    (study,) = studies(tmp_path)
    assert not study.get_trials(states=(TrialState.RUNNING,))
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.get_run(study.user_attrs["mlflow_parent_run_id"]).info.status == "KILLED"
    assert_stores_agree(tmp_path, study)


def test_two_sweeps_started_at_once_on_a_new_sqlite_store_both_finish(tmp_path):
    procs = [
        start(tmp_path, f"s{i}", "sweep.n_trials=6", f"experiment_name=together{i}")
        for i in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, stderr[-3000:]
        assert "database is locked" not in stderr, stderr
    found = studies(tmp_path)
    assert len(found) == 2
    for study in found:
        assert fitted_configurations(study) == 6
        assert_stores_agree(tmp_path, study)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    # Both registered (or the second found the same training digest and reused the version);
    # neither died on the alias's UNIQUE constraint.
    assert client.get_registered_model("customer-segmentation").aliases

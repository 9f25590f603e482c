"""Several processes on one study: trials of dead processes, waiting for the others, who
helps and who finalises."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from src.sweep import objective, shared
from src.sweep.objective import (
    FAILED,
    K_REFINEMENT,
    KIND,
    METRICS,
    STATE,
    WORKER,
    retries_on_the_way,
    worker_id,
)
from src.sweep.storage import open_storage, try_claim

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

PARAMS = {"outliers": "none", "scaler": "robust", "model": "kmeans", "k": 3}


@pytest.fixture
def study(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    return optuna.create_study(study_name="shared", storage=storage, direction="maximize")


def dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(proc.stdout)


def running_trial(study, worker: str, **attrs):
    """A trial left RUNNING by ``worker``, as a process leaves it when it dies mid-fit."""
    study.enqueue_trial(PARAMS, user_attrs=attrs)
    trial = study.ask()
    for name, value in PARAMS.items():
        trial.suggest_categorical(name, [value])
    trial.set_user_attr(WORKER, worker)
    trial.set_user_attr(METRICS, {"silhouette": 0.5})  # written before the process died
    return trial


def test_a_trial_whose_process_died_is_failed_and_retried_with_its_configuration(study):
    host = worker_id().rpartition(":")[0]
    dead = running_trial(study, f"{host}:{dead_pid()}", **{KIND: K_REFINEMENT})
    told = []
    stale = shared.StaleTrials(max_retry=2, listeners=[told.append])

    assert stale.reap(study) == 1

    killed, retry = study.trials
    assert killed.state == TrialState.FAIL
    assert [t.number for t in told] == [dead.number]
    assert retry.state == TrialState.WAITING
    assert retry.params == killed.params
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == dead.number
    assert retry.user_attrs == {KIND: K_REFINEMENT}  # no results or process id inherited


def test_a_trial_of_a_live_process_is_left_running(study):
    running_trial(study, worker_id())
    assert shared.StaleTrials(max_retry=2).reap(study) == 0
    assert [t.state for t in study.trials] == [TrialState.RUNNING]


def test_only_one_process_reaps_a_dead_trial(study):
    host = worker_id().rpartition(":")[0]
    running_trial(study, f"{host}:{dead_pid()}")
    first, second = shared.StaleTrials(2), shared.StaleTrials(2)
    assert first.reap(study) + second.reap(study) == 1
    assert len(study.trials) == 2  # the dead trial and one retry


def test_settle_waits_for_trials_running_elsewhere(study):
    trial = running_trial(study, worker_id())
    finisher = threading.Timer(0.5, lambda: study.tell(trial, 0.4))
    started = time.monotonic()
    finisher.start()
    again = shared.settle(study, target=None, reap=lambda s: None, poll=0.05)
    assert time.monotonic() - started >= 0.4
    assert again is False


def fail_with_error(study, trial) -> None:
    """What the objective does when a fit raises: record the state, then fail the trial."""
    trial.set_user_attr(STATE, FAILED)
    study.tell(trial, state=TrialState.FAIL)


def test_a_configuration_that_failed_with_an_error_counts_towards_the_budget(study):
    trial = running_trial(study, worker_id())
    threading.Timer(0.3, lambda: fail_with_error(study, trial)).start()
    assert shared.settle(study, target=1, reap=lambda s: None, poll=0.05) is False
    assert study.trials[0].state == TrialState.FAIL


def test_settle_samples_again_when_a_dead_trial_that_filled_the_budget_is_not_retried(
    study, monkeypatch
):
    monkeypatch.setattr(objective, "RETRY_GRACE_SECONDS", 0.3)
    trial = running_trial(study, worker_id())
    threading.Timer(0.3, lambda: study.tell(trial, state=TrialState.FAIL)).start()
    assert shared.settle(study, target=1, reap=lambda s: None, poll=0.05) is True


def test_a_trial_whose_process_died_keeps_its_place_for_its_retry(study):
    """Optuna fails a stale trial and queues its retry in two steps; a process sampling in
    between must not take the place, or the retry would find the budget spent."""
    trial = running_trial(study, worker_id())
    study.tell(trial, state=TrialState.FAIL)  # failed by a reaper; the retry is not queued yet
    failed = study.trials[0]
    assert retries_on_the_way(study.trials) == 1
    threading.Timer(0.5, lambda: shared.StaleTrials(max_retry=2)(study, failed)).start()

    assert shared.settle(study, target=1, reap=lambda s: None, poll=0.05) is True

    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]
    assert retries_on_the_way(study.trials) == 0


def test_a_trial_that_failed_with_an_error_holds_no_place(study):
    fail_with_error(study, running_trial(study, worker_id()))
    assert retries_on_the_way(study.trials) == 0


def test_a_helper_takes_over_the_claim_a_dead_finaliser_left(study, tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from src.sweep.storage import try_claim\n"
            f"claim = try_claim({url!r}, 'shared')\n"
            "print(claim is not None, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "True"
    assert try_claim(url, "shared") is None  # held by a live process
    holder.kill()
    holder.wait()

    claim = shared.help_out(
        study,
        run_queued=lambda: None,
        reap=lambda s: None,
        poll=0.05,
        claim=lambda: try_claim(url, "shared"),
    )
    assert claim is not None
    claim.release()


def test_a_helper_runs_queued_trials_and_leaves_once_none_waits(study):
    study.set_user_attr(shared.PHASE, shared.REFINING)
    study.enqueue_trial(PARAMS)
    ran = []

    def run_queued():
        ran.append(1)
        trial = study.ask()
        study.tell(trial, 0.1)

    assert shared.help_out(study, run_queued, reap=lambda s: None, poll=0.05) is None
    assert ran == [1]
    assert study.trials[0].state == TrialState.COMPLETE
    assert STATE not in study.trials[0].user_attrs

"""Several processes on one study: the phases of a shared sweep, trials whose process died,
and waiting while other processes finish their trials.

A sweep goes through phases, recorded in the study's ``phase`` user attribute:

1. ``sampling``: every process samples until the study holds ``sweep.n_trials`` distinct
   fitted configurations (the objective's budget gate keeps the count exact), then waits in
   :func:`settle` until no trial runs anywhere.
2. ``refining``: the one process holding the finalise claim (``src.sweep.storage.try_claim``)
   has queued the k refinement; every process runs queued trials (:func:`help_out`).
3. ``finalising``: the claim holder refits, reports and registers; the others have exited.
4. ``finalised``.

A trial whose process died stays RUNNING in Optuna until someone notices. On a server storage
Optuna's heartbeat does (``fail_stale_trials``, on every trial start and in every wait); on a
SQLite or journal file every process runs on this machine, so :meth:`StaleTrials.reap` fails the
running trials whose recorded process id is gone. Either way :class:`StaleTrials` queues a retry
with Optuna's ``RetryHeartbeatStaleTrialCallback`` and tells its listeners (the child run
becomes KILLED).
"""

from __future__ import annotations

import copy
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from src.errors import interruptible
from src.sweep.objective import (
    KIND,
    WORKER,
    configurations_taken,
    retries_on_the_way,
)

PHASE = "phase"
SAMPLING = "sampling"
REFINING = "refining"
FINALISING = "finalising"
FINALISED = "finalised"
CLOSED = (FINALISING, FINALISED)  # nothing left for another process to join


def phase(study: optuna.Study) -> str:
    return study.user_attrs.get(PHASE, SAMPLING)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def local_process_gone(worker: str | None) -> bool:
    """Whether ``<host>:<pid>`` names a process of this machine that no longer runs."""
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


@dataclass
class StaleTrials:
    """Fails the trials of dead processes, queues each for a retry and tells ``listeners``.

    Also Optuna's ``heartbeat_stale_trial_callback`` for server storages. The retry keeps the
    configuration and the trial kind (a k refinement stays one) but none of the dead trial's
    results or its process id.
    """

    max_retry: int
    legacy_running: bool = False  # also fail RUNNING trials that name no process (old sweeps)
    listeners: list[Callable[[FrozenTrial], None]] = field(default_factory=list)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        for listener in self.listeners:
            listener(trial)
        clean = copy.deepcopy(trial)
        clean.user_attrs = {k: v for k, v in trial.user_attrs.items() if k == KIND}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            RetryHeartbeatStaleTrialCallback(max_retry=self.max_retry)(study, clean)

    def reap(self, study: optuna.Study) -> int:
        """Fail and retry trials whose process is gone; how many this process reaped."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # heartbeats (server storages) only
        reaped = 0
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker = t.user_attrs.get(WORKER)
            if not (local_process_gone(worker) or (self.legacy_running and worker is None)):
                continue
            try:
                failed = study.tell(t.number, state=TrialState.FAIL)
            except (ValueError, RuntimeError):
                continue  # another process reaped it first
            self(study, failed)
            reaped += 1
        return reaped


def settle(
    study: optuna.Study,
    target: int | None,
    reap: Callable[[optuna.Study], object],
    poll: float,
    can_sample: bool = True,
) -> bool:
    """Wait while trials run in other processes; True when this process has trials to run again.

    It has when a failed trial's retry waits in the queue, or (``can_sample``, with ``target``
    distinct configurations wanted) when the fitted ones plus those still running or about to
    be retried fall short. False once nothing runs anywhere and no retry is on its way.
    """
    while True:
        reap(study)
        trials = study.get_trials(deepcopy=False)
        if any(t.state == TrialState.WAITING for t in trials):
            return True
        running = [t for t in trials if t.state == TrialState.RUNNING]
        coming = retries_on_the_way(trials)  # queued in a moment, run here or elsewhere
        if can_sample and target is not None and configurations_taken(trials) < target:
            return True
        if not running and not coming:
            return False
        with interruptible():
            time.sleep(poll)


def help_out(
    study: optuna.Study,
    run_queued: Callable[[], object],
    reap: Callable[[optuna.Study], object],
    poll: float,
    claim: Callable[[], object] | None = None,
    launcher_alive: Callable[[], bool] | None = None,
):
    """What a process that does not finalise does once sampling is over: run queued trials
    (the k refinement) until none is left, then return None.

    With ``claim`` (a process that could finalise), a free claim while the sweep has not
    reached ``refining`` means the finaliser died: the claim is returned and this process
    finalises instead. A local helper process stops when its ``launcher_alive`` says no.
    """
    while True:
        current = phase(study)
        if current in CLOSED:
            return None
        if current == REFINING:
            if any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False)):
                run_queued()
                continue
            return None
        if claim is not None and (held := claim()) is not None:
            return held
        if launcher_alive is not None and not launcher_alive():
            return None
        reap(study)
        with interruptible():
            time.sleep(poll)

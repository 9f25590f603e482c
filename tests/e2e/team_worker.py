"""A stand-in sweep worker for the server tests: Optuna and MLflow only, no project sweep code.

Joins an existing study (`optuna.load_study`) on the storage in ``$OPTUNA_STORAGE`` (a
PostgreSQL URL, or ``journal:<file>`` for Optuna's JournalFileBackend), and works it until the
study has ``--budget`` complete trials, however many workers share it:

- ``MaxTrialsCallback(budget, states=(COMPLETE, RUNNING))`` stops a worker once finished plus
  in-flight trials fill the budget;
- a trial whose lower-numbered trials already fill the budget is pruned before any work (two
  workers can pass the callback at the same moment; trial numbers are dense and unique, so this
  settles who goes first);
- a worker that stops waits until no trial is running anywhere, failing stale ones (heartbeat)
  so that their retries run, and joins in again when a retry is queued or a trial failed.

With ``$MLFLOW_TRACKING_URI`` set, every trial logs a child run under the run named by the
study's ``mlflow_parent_run_id`` user attribute, with a small artifact.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)

PARENT_ATTR = "mlflow_parent_run_id"
IN_BUDGET = (TrialState.COMPLETE, TrialState.RUNNING)


def open_storage(url: str, heartbeat: int, grace: int):
    if url.startswith("journal:"):
        path = url.removeprefix("journal:")
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    return RDBStorage(
        url,
        heartbeat_interval=heartbeat,
        grace_period=grace,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
    )


def within_budget(trial: optuna.Trial, budget: int) -> bool:
    trials = trial.study.get_trials(deepcopy=False, states=IN_BUDGET)
    ahead = sum(1 for t in trials if t.state == TrialState.COMPLETE or t.number < trial.number)
    return ahead < budget


def make_objective(args, parent_run_id: str | None):
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(c, 0.3, size=(60, 2)) for c in (0, 3, 6)])

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("pid", os.getpid())
        if not within_budget(trial, args.budget):
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned("the study already has its trials")
        k = trial.suggest_int("k", 2, 8)
        if args.hang_file and not Path(args.hang_file).exists():
            Path(args.hang_file).write_text(str(trial.number))
            time.sleep(3600)  # killed here by the test
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        labels = KMeans(n_clusters=k, n_init=1, random_state=0).fit_predict(points)
        score = float(silhouette_score(points, labels))
        time.sleep(args.trial_seconds)
        if parent_run_id is not None:
            log_child_run(trial, parent_run_id, k, score)
        return score

    return objective


def log_child_run(trial: optuna.Trial, parent_run_id: str, k: int, score: float) -> None:
    import mlflow

    parent = mlflow.get_run(parent_run_id)
    with mlflow.start_run(
        experiment_id=parent.info.experiment_id,
        parent_run_id=parent_run_id,
        run_name=f"trial-{trial.number}",
        tags={"optuna.study": trial.study.study_name, "optuna.trial": str(trial.number)},
    ) as run:
        mlflow.log_params({"k": k, "pid": os.getpid()})
        mlflow.log_metric("silhouette", score)
        mlflow.log_text(f"trial {trial.number}: k={k}\n", "trial.txt")
    trial.set_user_attr("mlflow_run_id", run.info.run_id)


def settle(study: optuna.Study, budget: int, heartbeat: int) -> bool:
    """Wait while other workers' trials run; True when this worker has work again."""
    while True:
        optuna.storages.fail_stale_trials(study)  # no-op without heartbeats (journal)
        counts = {s: 0 for s in TrialState}
        for t in study.get_trials(deepcopy=False):
            counts[t.state] += 1
        if (
            counts[TrialState.WAITING]
            or counts[TrialState.COMPLETE] + counts[TrialState.RUNNING] < budget
        ):
            return True
        if counts[TrialState.RUNNING] == 0:
            return False
        time.sleep(heartbeat)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--study", required=True)
    p.add_argument("--budget", type=int, required=True)
    p.add_argument("--heartbeat", type=int, default=1)
    p.add_argument("--grace", type=int, default=3)
    p.add_argument("--trial-seconds", type=float, default=0.1)
    p.add_argument("--ready-file", help="touched once the study is loaded")
    p.add_argument("--go-file", help="wait for this file before the first trial")
    p.add_argument("--hang-file", help="hang in the first trial after writing this file")
    args = p.parse_args()

    storage = open_storage(os.environ["OPTUNA_STORAGE"], args.heartbeat, args.grace)
    study = optuna.load_study(study_name=args.study, storage=storage)
    parent_run_id = None
    if os.environ.get("MLFLOW_TRACKING_URI"):
        parent_run_id = study.user_attrs[PARENT_ATTR]
    if args.ready_file:
        Path(args.ready_file).touch()
    while args.go_file and not Path(args.go_file).exists():
        time.sleep(0.02)
    objective = make_objective(args, parent_run_id)
    stop_at_budget = MaxTrialsCallback(args.budget, states=IN_BUDGET)
    while True:
        study.optimize(objective, callbacks=[stop_at_budget])
        if not settle(study, args.budget, args.heartbeat):
            break
    print(f"worker {os.getpid()} done", file=sys.stderr)


if __name__ == "__main__":
    main()

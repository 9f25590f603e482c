"""Several workers on one sweep: wall time and trials per minute with 1, 2 and 4 local worker
processes, and the cost of the PostgreSQL + MLflow server path against sqlite for one worker.

``--real`` runs the project's own sweep: ``python -m src.run +experiment=lrfmc`` with
``sweep.n_jobs=N`` on a local storage (one command; it starts N-1 more processes), or on the
team servers a first process plus N-1 ``sweep.role=worker`` processes. Without it, the component
benchmark: each worker is the stand-in below, a whole process that loads the study and fits scikit-learn
KMeans on synthetic data per trial, logging one MLflow child run per trial. Point it at the
real sweep with ``--command`` (placeholders: {python} {storage} {study} {trials} {tracking_uri}),
e.g.::

    --command "{python} -m src.run +experiment=lrfmc sweep.storage={storage} sweep.role=worker"

Every worker of a round is started at once. "wall" runs from the start of the first worker
process to the exit of the last, process start-up included; "trials alone" is the span from the
first trial's start to the last trial's end (Optuna's timestamps). Trials per minute are complete
trials over each. Rounds of the different settings alternate, so the shared machine's
background load hits them alike; the median of ``--repeat`` rounds is reported.

    python benchmarks/bench_workers.py --real --repeat 1    # the real sweep, 1, 2, 4 processes
    python benchmarks/bench_workers.py --real --overhead    # the real sweep, sqlite vs postgres
    python benchmarks/bench_workers.py                      # 1, 2, 4 workers on a journal file
    python benchmarks/bench_workers.py --storage postgres   # the same on the team servers
    python benchmarks/bench_workers.py --overhead           # 1 worker: sqlite vs PostgreSQL+server
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARENT_ATTR = "mlflow_parent_run_id"
# One BLAS/OpenMP thread per worker: the workers are the parallelism.
SINGLE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
STAND_IN = "{python} " + shlex.quote(__file__) + " worker --study {study} --budget {trials}"


# --- the stand-in worker -----------------------------------------------------------------------


def open_storage(url: str):
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

    if url.startswith("journal:"):
        path = url.removeprefix("journal:")
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    if url.startswith("sqlite:"):
        return optuna.storages.RDBStorage(url)
    return RDBStorage(
        url,
        heartbeat_interval=10,
        grace_period=30,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
    )


def worker(study_name: str, budget: int) -> None:
    """Work the study until it has `budget` complete trials, shared with any other workers."""
    import mlflow
    import numpy as np
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    in_budget = (TrialState.COMPLETE, TrialState.RUNNING)
    study = optuna.load_study(
        study_name=study_name, storage=open_storage(os.environ["OPTUNA_STORAGE"])
    )
    parent = mlflow.get_run(study.user_attrs[PARENT_ATTR])
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, size=(6, 5))
    points = np.concatenate([rng.normal(c, 1.0, size=(4000, 5)) for c in centres])
    sample = rng.choice(len(points), 3000, replace=False)

    def objective(trial: optuna.Trial) -> float:
        trials = study.get_trials(deepcopy=False, states=in_budget)
        if sum(t.state == TrialState.COMPLETE or t.number < trial.number for t in trials) >= budget:
            raise optuna.TrialPruned("the study already has its trials")
        k = trial.suggest_int("k", 2, 12)
        n_init = trial.suggest_int("n_init", 1, 4)
        labels = KMeans(n_clusters=k, n_init=n_init, random_state=trial.number).fit_predict(points)
        score = float(silhouette_score(points[sample], labels[sample]))
        with mlflow.start_run(
            experiment_id=parent.info.experiment_id,
            parent_run_id=parent.info.run_id,
            run_name=f"trial-{trial.number}",
        ):
            mlflow.log_params({"k": k, "n_init": n_init})
            mlflow.log_metric("silhouette", score)
        return score

    study.optimize(objective, callbacks=[MaxTrialsCallback(budget, states=in_budget)])


# --- rounds ------------------------------------------------------------------------------------


def new_sweep(storage_url: str, tracking_uri: str) -> str:
    """What the first process of a sweep does: the study, the experiment, the parent run."""
    import mlflow
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(
        study_name=name, storage=open_storage(storage_url), direction="maximize"
    )
    client = mlflow.MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(name)
    study.set_user_attr(PARENT_ATTR, client.create_run(experiment_id).info.run_id)
    return name


def complete_trials(storage_url: str, study_name: str) -> tuple[int, float]:
    """Complete trials, and seconds from the first trial's start to the last one's end."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    return len(done), (last - first).total_seconds()


def run_round(command: str, workers: int, trials: int, storage_url: str, tracking_uri: str):
    study = new_sweep(storage_url, tracking_uri)
    cmd = command.format(
        python=shlex.quote(sys.executable),
        storage=shlex.quote(storage_url),
        study=study,
        trials=trials,
        tracking_uri=shlex.quote(tracking_uri),
    )
    env = {
        **os.environ,
        **SINGLE_THREAD,
        "OPTUNA_STORAGE": storage_url,
        "MLFLOW_TRACKING_URI": tracking_uri,
    }
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            shlex.split(cmd),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - start
    for p, err in zip(procs, errors, strict=True):
        if p.returncode != 0:
            sys.exit(f"a worker failed ({p.returncode}):\n{err[-3000:]}")
    done, sweep = complete_trials(storage_url, study)
    if done != trials:
        sys.exit(f"study {study} has {done} complete trials, expected {trials}")
    return wall, sweep


# The real sweep: synthetic LRFMC customers, 3 x 2 x 2 options x k 3..10 = 96 configurations;
# the k refinement and registration off, so every round does the same 60 fits and one refit.
REAL_SWEEP = [
    "+experiment=lrfmc",
    "dataset.n_customers=3000",
    "sweep.k.low=3",
    "sweep.k.high=10",
    "sweep.search_space.outliers=[none,iqr_clip,quantile_clip]",
    "sweep.search_space.scaler=[log_standard,robust]",
    "sweep.search_space.model=[kmeans,minibatch_kmeans]",
    "sweep.refine_k=false",
    "sweep.stability_bootstraps=2",
    "sweep.log_trial_artifacts=false",
    "mlflow.register=false",
]


def fitted(storage_url: str, experiment: str) -> tuple[int, float]:
    """Fitted configurations of the round's study, and seconds from its first trial's start to
    its last trial's end."""
    import optuna

    from src.sweep.objective import counts_as_configuration
    from src.sweep.storage import open_storage as project_storage

    storage = project_storage(storage_url)
    (summary,) = [
        s
        for s in optuna.get_all_study_summaries(storage)
        if s.user_attrs.get("experiment") == experiment
    ]
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    done = [t for t in study.get_trials(deepcopy=False) if counts_as_configuration(t)]
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    return len(done), (last - first).total_seconds()


def run_real_round(kind: str, workers: int, trials: int, storage_url: str, tracking_uri: str):
    experiment = f"bench-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="bench-real-"))
    base = [
        sys.executable,
        "-m",
        "src.run",
        *REAL_SWEEP,
        f"sweep.n_trials={trials}",
        f"experiment_name={experiment}",
        f"sweep.storage={storage_url}",
        f"hydra.run.dir={folder}",
    ]
    if kind == "postgres":
        commands = [base + [f"sweep.study_name={experiment}"]] + [
            base + [f"sweep.study_name={experiment}", "sweep.role=worker"]
        ] * (workers - 1)
    else:
        commands = [base + [f"sweep.n_jobs={workers}"]]
    env = {**os.environ, **SINGLE_THREAD, "MLFLOW_TRACKING_URI": tracking_uri}
    env.pop("OPTUNA_STORAGE", None)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for cmd in commands
    ]
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - start
    shutil.rmtree(folder, ignore_errors=True)
    for p, err in zip(procs, errors, strict=True):
        if p.returncode != 0:
            sys.exit(f"a sweep process failed ({p.returncode}):\n{err[-3000:]}")
    done, sweep = fitted(storage_url, experiment)
    if done != trials:
        sys.exit(f"sweep {experiment} fitted {done} configurations, expected {trials}")
    return wall, sweep


class Stores:
    """Fresh stores for one setting: sqlite files, a journal file, or the team servers."""

    def __init__(self, kind: str, folder: Path, team):
        self.kind, self.folder, self.team = kind, folder, team

    def urls(self) -> tuple[str, str]:
        if self.kind == "postgres":
            return self.team.optuna_url, self.team.tracking_uri
        tracking = f"sqlite:///{self.folder / 'mlflow.db'}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / 'optuna.db'}", tracking
        return f"journal:{self.folder / 'optuna.log'}", tracking


def team_servers(folder: Path):
    from src.team import servers

    class Team:
        def __init__(self, state, credentials):
            self.tracking_uri = state.tracking_uri
            self.optuna_url = state.database_url("optuna", credentials.password)

    root = folder / "team"
    state = servers.start(servers.TeamSettings(root=root))
    return Team(state, servers.load_credentials(root)), root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    w = sub.add_parser("worker", help="(internal) the stand-in worker")
    w.add_argument("--study", required=True)
    w.add_argument("--budget", type=int, required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--storage", choices=["journal", "postgres"], default="journal")
    parser.add_argument("--overhead", action="store_true", help="1 worker: sqlite vs postgres")
    parser.add_argument("--command", default=STAND_IN, help="worker command template")
    parser.add_argument("--real", action="store_true", help="the project's own sweep")
    parser.add_argument("--team-dir", type=Path, help="team folder (default: a temporary one)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # Optuna's heartbeat and retry callback are experimental
    if args.mode == "worker":
        worker(args.study, args.budget)
        return

    settings = (
        [("sqlite", 1), ("postgres", 1)]
        if args.overhead
        else [(args.storage, n) for n in args.workers]
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    scratch.chmod(0o711)  # as root, PostgreSQL runs as `postgres` and must pass through
    team = team_root = None
    if any(kind == "postgres" for kind, _ in settings):
        team, team_root = team_servers(args.team_dir or scratch)
    results: dict[tuple[str, int], list[tuple[float, float]]] = {s: [] for s in settings}
    try:
        for i in range(args.repeat):
            for kind, n in settings:
                folder = Path(tempfile.mkdtemp(dir=scratch))
                storage_url, tracking_uri = Stores(kind, folder, team).urls()
                if args.real:
                    wall, sweep = run_real_round(kind, n, args.trials, storage_url, tracking_uri)
                else:
                    wall, sweep = run_round(args.command, n, args.trials, storage_url, tracking_uri)
                results[(kind, n)].append((wall, sweep))
                print(f"round {i + 1}: {line(kind, n, args.trials, wall, sweep)}", flush=True)
    finally:
        if team_root is not None:
            from src.team import servers

            servers.stop(team_root)
        shutil.rmtree(scratch, ignore_errors=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmedian of {args.repeat} rounds, {args.trials} trials each ({machine}):")
    base = statistics.median(w for w, _ in results[settings[0]])
    for (kind, n), rounds in results.items():
        wall = statistics.median(w for w, _ in rounds)
        sweep = statistics.median(s for _, s in rounds)
        print(f"  {line(kind, n, args.trials, wall, sweep)}  wall {wall / base:4.2f}x the first")


def line(kind: str, workers: int, trials: int, wall: float, sweep: float) -> str:
    return (
        f"{kind:<8} {workers} worker(s): wall {wall:6.1f} s, {trials / wall * 60:5.1f} trials/min;"
        f" trials alone {sweep:6.1f} s, {trials / sweep * 60:5.1f} trials/min"
    )


if __name__ == "__main__":
    main()

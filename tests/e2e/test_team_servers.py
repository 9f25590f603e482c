"""Several worker processes on one sweep, against the real servers: Optuna on PostgreSQL (and
on its JournalFileBackend for local processes) and an MLflow tracking server backed by
PostgreSQL with proxied artifacts. No project sweep code: the workers are
tests/e2e/team_worker.py, the components the sweep will be built on.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage
from optuna.trial import TrialState

from src.team import servers
from tests.e2e.servers import (
    assert_clean,
    finish,
    start_together,
    start_worker,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

PARENT_ATTR = "mlflow_parent_run_id"


def new_study(storage, name: str | None = None) -> optuna.Study:
    name = name or f"study-{uuid.uuid4().hex[:8]}"
    return optuna.create_study(study_name=name, storage=storage, direction="maximize")


def new_parent_run(client: MlflowClient, experiment: str, study: optuna.Study) -> str:
    """What the first process does: the experiment once, the parent run, its id in the study."""
    experiment_id = client.create_experiment(experiment)
    run_id = client.create_run(experiment_id, run_name="sweep").info.run_id
    study.set_user_attr(PARENT_ATTR, run_id)
    return run_id


def run_workers(tmp_path, storage_url, study_name, count, *args, tracking_uri=None):
    gate = tmp_path / f"go-{study_name}"

    def start(_, ready):
        return start_worker(
            storage_url,
            study_name,
            "--ready-file",
            str(ready),
            "--go-file",
            str(gate),
            *args,
            tracking_uri=tracking_uri,
        )

    return start_together(count, gate, start)


def child_runs(client: MlflowClient, parent_run_id: str):
    parent = client.get_run(parent_run_id)
    return client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        max_results=1000,
    )


def completed(study: optuna.Study):
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def by_state(study: optuna.Study) -> dict[str, int]:
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    return {s: states.count(s) for s in set(states)}


def retries_of(study: optuna.Study, trial) -> list:
    retried = RetryHeartbeatStaleTrialCallback.retried_trial_number
    return [t for t in study.trials if retried(t) == trial.number]


def wait_for(path: Path, procs, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared: {finish(procs, 1)}"
        time.sleep(0.05)


# --- PostgreSQL + MLflow server ----------------------------------------------------------------


def test_three_workers_log_child_runs_under_the_parent_named_in_the_study(team, tmp_path):
    client = MlflowClient(team.tracking_uri)
    study = new_study(team.optuna_url)
    parent = new_parent_run(client, f"children-{study.study_name}", study)
    budget = 9

    procs = run_workers(
        tmp_path,
        team.optuna_url,
        study.study_name,
        3,
        "--budget",
        str(budget),
        tracking_uri=team.tracking_uri,
    )
    assert_clean(finish(procs))

    runs = child_runs(client, parent)
    trial_run_ids = sorted(t.user_attrs["mlflow_run_id"] for t in completed(study))
    assert sorted(r.info.run_id for r in runs) == trial_run_ids
    assert len(runs) == budget
    assert {r.data.params["pid"] for r in runs} == {str(p.pid) for p in procs}
    names = [e.name for e in client.search_experiments()]
    assert names.count(f"children-{study.study_name}") == 1


def test_child_run_artifacts_go_through_the_server_to_its_artifact_folder(team, tmp_path):
    client = MlflowClient(team.tracking_uri)
    experiment_id = client.create_experiment(f"artifacts-{uuid.uuid4().hex[:8]}")
    parent = client.create_run(experiment_id).info.run_id
    child = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent}).info

    client.log_text(child.run_id, "k=4\n", "trial.txt")

    assert child.artifact_uri.startswith("mlflow-artifacts:")
    fetched = client.download_artifacts(child.run_id, "trial.txt", str(tmp_path))
    assert Path(fetched).read_text() == "k=4\n"
    stored = list(team.artifacts.rglob(f"{child.run_id}/artifacts/trial.txt"))
    assert [p.read_text() for p in stored] == ["k=4\n"]


def test_three_workers_complete_exactly_the_budget_of_one_study(team, tmp_path):
    study = new_study(team.optuna_url)
    budget = 24

    procs = run_workers(tmp_path, team.optuna_url, study.study_name, 3, "--budget", str(budget))
    assert_clean(finish(procs))

    done = completed(study)
    assert len(done) == budget
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert {t.user_attrs["pid"] for t in done} == {p.pid for p in procs}
    surplus = [t for t in study.trials if t.state != TrialState.COMPLETE]
    assert all(t.state == TrialState.PRUNED and t.user_attrs["surplus"] for t in surplus)


def test_a_trial_of_a_killed_worker_fails_by_heartbeat_and_is_retried_once(team, tmp_path):
    study = new_study(team.optuna_url)
    budget = 12
    hang = tmp_path / "victim-trial"
    gate = tmp_path / "go-kill"

    def start(i, ready):
        extra = ["--hang-file", str(hang)] if i == 0 else []
        return start_worker(
            team.optuna_url,
            study.study_name,
            "--budget",
            str(budget),
            "--ready-file",
            str(ready),
            "--go-file",
            str(gate),
            "--trial-seconds",
            "0.3",
            *extra,
        )

    victim, *survivors = start_together(3, gate, start)
    wait_for(hang, [victim])
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    assert_clean(finish(survivors))

    killed = study.trials[int(hang.read_text())]
    assert killed.state == TrialState.FAIL
    retries = retries_of(study, killed)
    assert [t.state for t in retries] == [TrialState.COMPLETE]
    assert retries[0].params == killed.params
    assert len(completed(study)) == budget


def test_two_sweeps_on_one_server_at_once_keep_their_trials_apart(team, tmp_path):
    client = MlflowClient(team.tracking_uri)
    sweeps = []
    for name in ("left", "right"):
        study = new_study(team.optuna_url, f"{name}-{uuid.uuid4().hex[:8]}")
        sweeps.append((study, new_parent_run(client, study.study_name, study)))
    budget = 6

    gate = tmp_path / "go-two-sweeps"

    def start(i, ready):
        study = sweeps[i % 2][0]
        args = ["--budget", str(budget), "--ready-file", str(ready), "--go-file", str(gate)]
        return start_worker(
            team.optuna_url, study.study_name, *args, tracking_uri=team.tracking_uri
        )

    procs = start_together(4, gate, start)  # two workers on each sweep, all at once
    assert_clean(finish(procs))

    for study, parent in sweeps:
        runs = child_runs(client, parent)
        assert len(completed(study)) == budget
        assert len(runs) == budget
        assert {r.data.tags["optuna.study"] for r in runs} == {study.study_name}


def test_status_masks_the_password_that_only_env_prints(team):
    root = Path(team.state.root)
    lines = " ".join(s.line() for s in servers.status(root))
    env = "\n".join(servers.env_lines(root))
    mlflow_pid = servers.load_state(root).mlflow_pid
    mlflow_cmdline = Path(f"/proc/{mlflow_pid}/cmdline").read_bytes().decode()

    assert team.credentials.password not in lines
    assert "***" in lines
    assert team.credentials.password not in mlflow_cmdline
    assert team.credentials.password not in (root / "mlflow.log").read_text()
    assert f"OPTUNA_STORAGE={team.optuna_url}" in env
    assert f"MLFLOW_TRACKING_URI={team.tracking_uri}" in env


def experiment_names(tracking_uri: str) -> list[str]:
    return sorted(e.name for e in MlflowClient(tracking_uri).search_experiments())


def test_stop_ends_both_servers_and_a_restart_keeps_the_urls_and_the_data(team):
    """On the session's servers: they run again, at the same URLs, when the test ends."""
    root = Path(team.state.root)
    before = servers.load_state(root)
    MlflowClient(team.tracking_uri).create_experiment(f"kept-{uuid.uuid4().hex[:8]}")
    kept = experiment_names(team.tracking_uri)

    servers.stop(root)
    assert not servers.pid_alive(before.postgres_pid)
    assert servers.group_members(before.mlflow_pid) == []  # the server and its uvicorn workers

    again = servers.start(servers.TeamSettings(root=root, mlflow_workers=1))
    assert again.tracking_uri == team.tracking_uri
    assert again.postgres_port == team.state.postgres_port
    assert experiment_names(again.tracking_uri) == kept


# --- JournalFileBackend: local processes without a server ----------------------------------


def journal(path: Path) -> JournalStorage:
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def test_three_local_processes_on_one_journal_file_complete_the_budget(tmp_path):
    log = tmp_path / "optuna.log"
    study = new_study(journal(log))
    budget = 24

    procs = run_workers(tmp_path, f"journal:{log}", study.study_name, 3, "--budget", str(budget))
    assert_clean(finish(procs))

    study = optuna.load_study(study_name=study.study_name, storage=journal(log))
    assert len(completed(study)) == budget
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert {t.user_attrs["pid"] for t in completed(study)} == {p.pid for p in procs}


def test_the_launcher_retries_the_trial_of_a_killed_local_process(tmp_path):
    """JournalStorage has no heartbeat: the launcher that owns the processes sees one die and
    fails its running trial, queueing the retry with Optuna's own callback."""
    log = tmp_path / "optuna.log"
    study = new_study(journal(log))
    budget = 9
    hang = tmp_path / "victim-trial"
    gate = tmp_path / "go-journal-kill"
    url = f"journal:{log}"

    def start(i, ready):
        extra = ["--hang-file", str(hang)] if i == 0 else []
        args = ["--budget", str(budget), "--ready-file", str(ready), "--go-file", str(gate)]
        return start_worker(url, study.study_name, *args, "--trial-seconds", "0.3", *extra)

    victim, *survivors = start_together(3, gate, start)
    wait_for(hang, [victim])
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    retry = RetryHeartbeatStaleTrialCallback(max_retry=2)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("pid") == victim.pid:
            study.tell(t.number, state=TrialState.FAIL)
            retry(study, t)
    assert_clean(finish(survivors))

    study = optuna.load_study(study_name=study.study_name, storage=journal(log))
    killed = study.trials[int(hang.read_text())]
    retries = retries_of(study, killed)
    assert killed.state == TrialState.FAIL
    assert [t.state for t in retries] == [TrialState.COMPLETE]
    assert retries[0].params == killed.params
    assert len(completed(study)) == budget

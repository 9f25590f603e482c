"""Which alias a new version gets: a pure decision, then the registry itself."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from mlflow import MlflowClient

from src.tracking.registry import CHALLENGER, CHAMPION, candidate_tags, choose_alias

BASE = {"data_fingerprint": "f1", "feature_set": "rfm", "objective": "silhouette"}


def tags(value: float, **changes) -> dict[str, str]:
    return {**BASE, "objective_value": repr(value), **changes}


def test_the_first_version_becomes_champion():
    assert choose_alias(tags(0.4), None) == (CHAMPION, "first version registered")


def test_a_better_score_on_the_same_data_takes_the_champion_alias():
    alias, reason = choose_alias(tags(0.5), tags(0.4), "3")
    assert alias == CHAMPION and "beats champion v3" in reason


def test_a_worse_score_becomes_challenger():
    alias, reason = choose_alias(tags(0.3), tags(0.4), "3")
    assert alias == CHALLENGER and "does not beat" in reason


def test_a_tie_keeps_the_champion():
    alias, reason = choose_alias(tags(0.4), tags(0.4), "3")
    assert alias == CHALLENGER and "ties" in reason


@pytest.mark.parametrize(
    "change",
    [{"data_fingerprint": "f2"}, {"feature_set": "lrfmc"}, {"objective": "davies_bouldin"}],
)
def test_other_data_features_or_objective_are_not_compared(change):
    alias, reason = choose_alias(tags(0.9, **change), tags(0.4), "3")
    assert alias == CHALLENGER and "other data" in reason


def test_a_champion_without_a_score_is_not_beaten_silently():
    champion = dict(BASE)  # no objective_value
    alias, reason = choose_alias(tags(0.9), champion, "1")
    assert alias == CHALLENGER and "no recorded" in reason


def test_lower_is_better_for_minimised_objectives():
    new, old = tags(0.5, objective="davies_bouldin"), tags(0.7, objective="davies_bouldin")
    assert choose_alias(new, old, "1", greater_is_better=False)[0] == CHAMPION


def test_version_tags_of_a_real_result_carry_its_contract(sweep_result):
    result = sweep_result[0]
    t = candidate_tags(result)
    assert t["data_fingerprint"] == result.dataset.fingerprint
    assert t["objective_value"] == repr(result.value)
    assert t["config"] == result.choice.describe()
    assert len(t["training_digest"]) == 16


# --- two sweeps registering at once on one sqlite store ---------------------------------------


def _blocked_on(lock_file: Path) -> bool:
    """Some process or thread waits for the flock on ``lock_file`` (/proc/locks marks waiters
    with "->" and names the file by device:inode)."""
    if not lock_file.exists():
        return False
    inode = f":{lock_file.stat().st_ino}"
    return any(
        "->" in line and any(field.endswith(inode) for field in line.split())
        for line in Path("/proc/locks").read_text().splitlines()
    )


def scored(result, value: float):
    """``result`` with another objective value (so another training digest too)."""
    return replace(result, metrics={**result.metrics, result.objective: value})


def test_two_sweeps_moving_the_champion_at_once_leave_one_champion_the_better(
    sweep_result, tmp_path, monkeypatch
):
    """Sweep A reads the champion; before A moves the alias, sweep B (better than both) tries
    to register. B must wait for A, then decide against A's outcome: B ends champion. Without
    the registry lock B would finish inside A's window and A, deciding on the champion it read
    before, would take the alias from B (or both would insert the alias at once)."""
    from src.sweep.storage import lock_path
    from src.tracking import registry
    from src.tracking.serving import log_model
    from src.tracking.tracker import Tracker, probe_tracking_store

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = sweep_result[0]
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    probe_tracking_store(uri)
    setup = Tracker(uri, "race")
    with setup.parent_run("setup", {}):
        model_uri = log_model(result.model)
    old, a, b = (scored(result, result.value - 0.2), scored(result, result.value - 0.1), result)
    first = registry.register(setup, model_uri, "m", old, greater_is_better=True)
    assert first.alias == CHAMPION

    a_read, b_done = threading.Event(), threading.Event()
    real_champion = registry._champion

    def champion_then_pause(client, name):
        found = real_champion(client, name)
        if threading.current_thread().name == "A" and not a_read.is_set():
            a_read.set()  # A has read the champion; let B in before A writes
            deadline = time.monotonic() + 120
            lock = lock_path(db, "registry")
            while not (b_done.is_set() or _blocked_on(lock)):
                assert time.monotonic() < deadline, "B neither finished nor waited for A"
                time.sleep(0.02)
        return found

    monkeypatch.setattr(registry, "_champion", champion_then_pause)
    outcomes, errors = {}, {}

    def sweep(label, candidate):
        if label == "B":
            a_read.wait(120)
        try:  # each sweep has its own tracker and client, as two processes would
            outcomes[label] = registry.register(
                Tracker(uri, "race"), model_uri, "m", candidate, greater_is_better=True
            )
        except BaseException as exc:  # reported below
            errors[label] = exc
        finally:
            if label == "B":
                b_done.set()

    threads = [threading.Thread(target=sweep, args=x, name=x[0]) for x in (("A", a), ("B", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name = 'm'")
    assert len(versions) == 3  # the old champion, A and B: every version registered
    # search_model_versions leaves aliases out: read each version
    aliases = {str(v.version): client.get_model_version("m", v.version).aliases for v in versions}
    holders = [version for version, held in aliases.items() if CHAMPION in held]
    assert holders == [outcomes["B"].version]
    assert outcomes["B"].alias == CHAMPION
    assert f"beats champion v{outcomes['A'].version}" in outcomes["B"].reason

"""Register the chosen model and decide which alias it gets (champion or challenger).

The decision is the pure function :func:`choose_alias`: ``champion`` moves to a new version only
when it beats the current champion on the same data fingerprint, feature set and objective
(a better score on other data says nothing about which model to serve); a tie keeps the
champion. A re-run on identical data and configuration that gives the identical result is not
registered again: :func:`register` returns the existing version and says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException

from src.result import SegmentationResult
from src.tracking.tracker import Tracker, registry_lock

CHAMPION = "champion"
CHALLENGER = "challenger"
DIGEST_TAG = "training_digest"
_SAME_DATA = ("data_fingerprint", "feature_set", "objective")
_ALIAS_ATTEMPTS = 3


def _is_conflict(exc: MlflowException) -> bool:
    """Two writers at once on a unique row (sqlite's UNIQUE, PostgreSQL's duplicate key)."""
    text = str(exc)
    return any(sign in text for sign in ("UNIQUE", "unique", "duplicate key", "already exists"))


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    alias: str
    previous_champion: str | None
    reason: str
    new: bool = True  # False: an identical version existed and was reused


def candidate_tags(result: SegmentationResult) -> dict[str, str]:
    """Version tags: what the model was trained on, its configuration and its metrics."""
    tags = {
        "data_fingerprint": result.dataset.fingerprint,
        "feature_set": result.dataset.feature_set,
        "dataset": result.dataset.name,
        "experiment": result.experiment,
        "config": result.choice.describe(),
        "objective": result.objective,
        "objective_value": repr(result.value),
        **{f"metric.{k}": f"{v:.6g}" for k, v in result.metrics.items()},
    }
    tags[DIGEST_TAG] = training_digest(result)
    return tags


def training_digest(result: SegmentationResult) -> str:
    """Same data, same fitted configuration, same result: the same digest."""
    payload = {
        "data": result.dataset.fingerprint,
        "features": result.dataset.feature_set,
        "snapshot": None if result.dataset.snapshot is None else str(result.dataset.snapshot),
        "params": {k: str(v) for k, v in result.fitted_params.items()},
        "objective": [result.objective, round(result.value, 10)],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def choose_alias(
    candidate: Mapping[str, str],
    champion: Mapping[str, str] | None,
    champion_version: str | None = None,
    greater_is_better: bool = True,
) -> tuple[str, str]:
    """(alias, reason) for a new version with ``candidate`` tags against the champion's tags."""
    if champion is None:
        return CHAMPION, "first version registered"
    label = f"champion v{champion_version}" if champion_version else "the champion"
    if any(candidate.get(key) != champion.get(key) for key in _SAME_DATA):
        return CHALLENGER, (
            f"{label} was scored on other data, features or objective; compare them before "
            "promoting"
        )
    metric = candidate["objective"]
    new, old = float(candidate["objective_value"]), float(champion.get("objective_value", "nan"))
    if math.isnan(old):
        return CHALLENGER, f"{label} has no recorded {metric}; compare them before promoting"
    if new == old:
        return CHALLENGER, f"{metric} {new:.4f} ties with {label}, which stays champion"
    better = new > old if greater_is_better else new < old
    verdict = "beats" if better else "does not beat"
    return (CHAMPION if better else CHALLENGER), f"{metric} {new:.4f} {verdict} {label} ({old:.4f})"


def register(
    tracker: Tracker,
    model_uri: str,
    name: str,
    result: SegmentationResult,
    greater_is_better: bool,
) -> Registration:
    """Register ``model_uri`` as a new version of ``name`` and set its alias.

    Sweeps that finish at the same moment register one after the other on a sqlite store (a
    file lock); on a server, moving an alias that another sweep moved in between is decided
    again against the new champion.
    """
    with registry_lock(tracker.tracking_uri):
        return _register(tracker, model_uri, name, result, greater_is_better)


def _register(
    tracker: Tracker,
    model_uri: str,
    name: str,
    result: SegmentationResult,
    greater_is_better: bool,
) -> Registration:
    client = tracker.client
    tags = candidate_tags(result)
    current = _champion(client, name)
    same = _identical_version(client, name, tags[DIGEST_TAG])
    if same is not None:
        aliases = list(same.aliases)
        return Registration(
            name=name,
            version=str(same.version),
            alias=aliases[0] if aliases else "none",
            previous_champion=None if current is None else str(current.version),
            reason=(
                f"identical to v{same.version} (same data, configuration and result), "
                "so not registered again"
            ),
            new=False,
        )
    mv = mlflow.register_model(model_uri, name, tags=tags)
    for attempt in range(_ALIAS_ATTEMPTS):
        alias, reason = choose_alias(
            tags,
            None if current is None else current.tags,
            None if current is None else str(current.version),
            greater_is_better,
        )
        try:
            client.set_registered_model_alias(name, alias, mv.version)
            break
        except MlflowException as exc:
            if attempt + 1 == _ALIAS_ATTEMPTS or not _is_conflict(exc):
                raise
            time.sleep(0.2 * (attempt + 1))
            current = _champion(client, name)  # another sweep moved it: decide again
    client.set_model_version_tag(name, mv.version, "alias_reason", reason)
    from src.tracking.artifacts import describe_result

    client.update_model_version(name, mv.version, description=describe_result(result))
    if not client.get_registered_model(name).description:
        client.update_registered_model(
            name,
            description=(
                f"Customer segments ({result.dataset.feature_set.upper()}) of experiment "
                f"'{result.experiment}'. Load with models:/{name}@{CHAMPION}; each version's "
                "tags hold its data fingerprint, configuration and metrics."
            ),
        )
    return Registration(
        name=name,
        version=str(mv.version),
        alias=alias,
        previous_champion=None if current is None else str(current.version),
        reason=reason,
    )


def _champion(client, name: str):
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def _identical_version(client, name: str, digest: str):
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    matches = [v for v in versions if v.tags.get(DIGEST_TAG) == digest]
    return min(matches, key=lambda v: int(v.version)) if matches else None


def model_version(model_uri: str, tracking_uri: str | None = None) -> tuple[str, str]:
    """The registered name and version behind a model URI (``models:/name@alias`` or
    ``models:/name/3``); other URIs (``runs:/...``, logged-model ids) give the URI itself and
    ``"unregistered"``."""
    import re

    from mlflow import MlflowClient

    from src.tracking.tracker import resolve_tracking_uri

    if m := re.fullmatch(r"models:/([^/@]+)/(\d+)", model_uri):
        return m.group(1), m.group(2)
    if m := re.fullmatch(r"models:/([^/@]+)@([^/]+)", model_uri):
        uri = resolve_tracking_uri(tracking_uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return m.group(1), str(client.get_model_version_by_alias(m.group(1), m.group(2)).version)
    return model_uri, "unregistered"

"""Register a model version and decide which alias it gets (champion or challenger)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from src.tracking.tracker import Tracker

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass
class Registration:
    name: str
    version: str
    alias: str
    previous_champion: str | None
    reason: str


def register(
    tracker: Tracker,
    model_uri: str,
    name: str,
    metric: str,
    value: float,
    greater_is_better: bool,
    version_tags: Mapping[str, Any],
) -> Registration:
    """Register a version; `champion` moves only if it beats the champion on the same data.

    "Same data" means the same data fingerprint and feature set: a better score on other
    data says nothing about which model to serve.
    """
    tags = {k: str(v) for k, v in version_tags.items()}
    tags["objective"] = metric
    tags["objective_value"] = repr(float(value))
    mv = mlflow.register_model(model_uri, name, tags=tags)
    try:
        current = tracker.client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    if current is None:
        alias, reason = CHAMPION, "first version registered"
    else:
        ct = current.tags
        comparable = (
            ct.get("data_fingerprint") == tags.get("data_fingerprint")
            and ct.get("feature_set") == tags.get("feature_set")
            and ct.get("objective") == metric
        )
        old = float(ct.get("objective_value", "nan"))
        better = value > old if greater_is_better else value < old
        if not comparable:
            alias = CHALLENGER
            reason = (
                f"champion v{current.version} was scored on other data or another "
                "objective; compare them before promoting"
            )
        elif better:
            alias = CHAMPION
            reason = f"{metric} {value:.4f} beats champion v{current.version} ({old:.4f})"
        else:
            alias = CHALLENGER
            reason = f"{metric} {value:.4f} does not beat champion v{current.version} ({old:.4f})"
    tracker.client.set_registered_model_alias(name, alias, mv.version)
    tracker.client.set_model_version_tag(name, mv.version, "alias_reason", reason)
    return Registration(
        name=name,
        version=str(mv.version),
        alias=alias,
        previous_champion=None if current is None else str(current.version),
        reason=reason,
    )

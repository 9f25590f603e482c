"""Which alias a new version gets: a pure decision, then the registry itself."""

from __future__ import annotations

import pytest

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

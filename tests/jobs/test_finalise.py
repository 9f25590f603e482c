"""The finalise step: a real small sweep's study in, a complete SegmentationResult out."""

from __future__ import annotations

import numpy as np
import pytest

from src.columns import SEGMENT_NAME
from src.result import FigureId


@pytest.fixture(scope="module")
def result(sweep_result):
    return sweep_result[0]


def test_the_chosen_trial_is_the_best_trial_at_the_ruled_k(sweep_result):
    from src.sweep.study import best_trials_at

    result, study = sweep_result
    chosen_row = result.k_curve[result.k_curve["chosen"]]
    assert chosen_row["k"].tolist() == [result.choice.k]
    assert result.chosen_trial - 1 == best_trials_at(study, result.choice.k)[0].trial


def test_the_chosen_trial_fitted_the_chosen_configuration(sweep_result):
    result, study = sweep_result
    trial = study.trials[result.chosen_trial - 1]
    assert trial.params == result.choice.as_dict()
    assert trial.value == pytest.approx(result.value)


def test_the_k_curve_records_the_rules_inputs_and_verdict(result):
    curve = result.k_curve.set_index("k")
    assert {"acceptable", "near_knee", "well_separated", "stability_ari", "verdict"} <= set(
        curve.columns
    )
    assert (curve["verdict"] == "chosen").sum() == 1
    assert curve.loc[result.choice.k, "stability_ari"] >= 0
    assert f"k={result.choice.k}" in result.k_reason


def test_the_model_carries_each_segments_actions(result):
    actions = result.model.segment_actions
    assert set(actions) == set(result.names)
    assert all(actions[s] == list(result.insight.actions.loc[s, "actions"]) for s in actions)


def test_the_profile_states_what_each_segment_is_worth(result):
    profile = result.profile
    np.testing.assert_allclose(profile["revenue_share"].sum(), 1.0)
    assert (profile["avg_order_value"] > 0).all()


def test_every_segment_has_a_plain_rule(result):
    rules = result.insight.rules
    assert list(rules.index) == sorted(result.names)
    assert rules["precision"].between(0, 1).all() and rules["coverage"].between(0, 1).all()
    assert "segment_rules" in result.insight.tables


def test_fitted_params_agree_with_the_chosen_k(result):
    assert result.fitted_params["model.n_clusters"] == result.choice.k
    assert not any("${" in str(v) for v in result.fitted_params.values())


def test_every_customer_gets_one_segment(result):
    assert len(result.assignments) == len(result.features)
    assert result.assignments.index.equals(result.features.index)
    assert set(result.assignments["segment_id"]) == set(result.names)


def test_profile_sizes_add_up_and_names_match(result):
    assert result.profile["n_customers"].sum() == len(result.features)
    assert dict(result.profile[SEGMENT_NAME]) == dict(result.names)
    np.testing.assert_allclose(result.profile["share"].sum(), 1.0)


def test_every_figure_is_drawn_and_keyed_by_its_id(result):
    drawn = set(result.figures)
    assert {FigureId.RADAR, FigureId.SIZES, FigureId.ELBOW, FigureId.SILHOUETTE_VS_K} <= drawn
    assert all(isinstance(f, FigureId) for f in drawn)
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in result.figures.values())


def test_the_k_curve_spans_the_whole_range(result):
    assert list(result.k_curve["k"]) == [3, 4, 5, 6]


def test_the_trials_table_lists_each_configuration_once(result):
    configs = result.trials[["outliers", "scaler", "model", "k"]]
    assert not configs.duplicated().any()
    assert result.chosen_trial in set(result.trials["trial"])


def test_stability_is_measured(result):
    assert 0 <= result.metrics["stability_ari"] <= 1


def test_the_result_is_read_only(result):
    with pytest.raises(TypeError):
        result.metrics["silhouette"] = 1.0
    with pytest.raises(AttributeError):
        result.choice = None

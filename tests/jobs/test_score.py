"""The CRM export of batch scoring, built from a real sweep's model."""

from __future__ import annotations

import pandas as pd
import pytest

from src.jobs.score import EXPORT_COLUMNS, EXPORT_TRAILER, crm_export, segment_actions


@pytest.fixture(scope="module")
def export(sweep_result) -> pd.DataFrame:
    result = sweep_result[0]
    model = result.model
    actions, _ = segment_actions(model)
    predictions = model.predict(result.features)
    return crm_export(
        predictions,
        result.features,
        actions,
        pd.Timestamp("2024-12-31"),
        "customer-segmentation",
        "7",
    )


def test_the_export_has_the_crm_columns_in_order(export, sweep_result):
    features = list(sweep_result[0].features.columns)
    assert list(export.columns) == [*EXPORT_COLUMNS, *features, *EXPORT_TRAILER]


def test_one_row_per_customer_with_its_feature_values(export, sweep_result):
    features = sweep_result[0].features
    assert export["customer_id"].tolist() == features.index.astype(str).tolist()
    pd.testing.assert_frame_equal(
        export.set_index("customer_id")[list(features.columns)],
        features.set_axis(features.index.astype(str)).rename_axis("customer_id"),
    )


def test_each_customer_gets_their_segments_recommended_actions(export, sweep_result):
    actions = sweep_result[0].insight.actions["actions"]
    for seg, text in export.groupby("segment_id")["recommended_actions"].first().items():
        assert text == " | ".join(actions[seg])
        assert text


def test_snapshot_and_model_identity_on_every_row(export):
    assert set(export["snapshot_date"]) == {"2024-12-31"}
    assert set(export["model_name"]) == {"customer-segmentation"}
    assert set(export["model_version"]) == {"7"}


def test_a_model_without_actions_gets_the_playbooks_and_a_note(sweep_result):
    import copy

    model = copy.copy(sweep_result[0].model)
    model.segment_actions = {}
    actions, note = segment_actions(model)
    assert set(actions) == set(model.segment_names)
    assert all(actions.values()) and "playbook" in note

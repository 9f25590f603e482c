"""SegmentationModel: fit, score, and the stored form production loads (skops + JSON)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline

from src.config import compose_config, group_options
from src.errors import SegmentationError
from src.model.segmentation import (
    PIPELINE_FILE,
    STATE_FILE,
    TRUSTED_TYPES,
    SegmentationModel,
)
from src.model.transformers import LogStandardScaler
from src.result import SWEPT_GROUPS, Choice
from src.sweep.space import sweep_space


def lrfmc_features(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Valid LRFMC customers with three spend levels, indexed by text id."""
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 3, n)
    recency = rng.integers(0, 200, n) + 150 * (2 - level)
    return pd.DataFrame(
        {
            "length_days": recency + rng.integers(0, 600, n),
            "recency_days": recency,
            "frequency": 1 + rng.poisson(2 + 6 * level),
            "monetary": rng.lognormal(4 + level, 0.4),
            "discount_rate": rng.uniform(0, 1, n).round(2),
        },
        index=pd.Index([f"C{i:04d}" for i in range(n)], name="customer_id"),
    )


def kmeans_model(features: pd.DataFrame) -> SegmentationModel:
    pipeline = Pipeline(
        [("scaler", LogStandardScaler()), ("model", KMeans(3, n_init=3, random_state=0))]
    )
    model = SegmentationModel(pipeline, list(features.columns)).fit(features)
    model.segment_names = {0: "Champions", 1: "Loyal", 2: "Lost"}
    model.contract = {"features": {"name": "lrfmc"}, "fingerprint": "abc"}
    return model


@pytest.fixture(scope="module")
def features():
    return lrfmc_features()


@pytest.fixture(scope="module")
def model(features):
    return kmeans_model(features)


def test_segment_zero_is_the_highest_spending_segment(model, features):
    labels = model.labels(features)
    means = features["monetary"].groupby(labels).mean()
    assert means.idxmax() == 0
    assert means.is_monotonic_decreasing


def test_integer_ids_come_back_as_given(model, features):
    table = features.reset_index(drop=True).assign(customer_id=np.arange(len(features)) + 7)
    out = model.predict(table)
    assert out["customer_id"].dtype == "int64"
    assert out["customer_id"].tolist() == table["customer_id"].tolist()
    assert list(out.columns) == ["customer_id", "segment_id", "segment_name", "distance_to_centre"]


def test_predict_rejects_an_out_of_range_row_instead_of_scoring_it(model, features):
    bad = features.head(3).copy()
    bad.iloc[1, bad.columns.get_loc("discount_rate")] = 3.0
    with pytest.raises(SegmentationError, match=r"discount_rate .*\[0, 1\].*'C0001'"):
        model.predict(bad)


def test_fit_rejects_training_data_outside_the_feature_rules(features):
    bad = features.copy()
    bad.iloc[0, bad.columns.get_loc("frequency")] = 0
    with pytest.raises(SegmentationError, match="frequency must be"):
        kmeans_model(bad)


def test_stored_model_scores_like_the_fitted_one(model, features, tmp_path):
    loaded = SegmentationModel.load(model.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.predict(features), model.predict(features))
    assert loaded.segment_names == model.segment_names
    assert loaded.contract == model.contract


def test_stored_state_is_plain_json_and_the_pipeline_is_no_pickle(model, tmp_path):
    folder = model.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == sorted([PIPELINE_FILE, STATE_FILE])
    state = json.loads((folder / STATE_FILE).read_text())
    assert state["segment_names"] == {"0": "Champions", "1": "Loyal", "2": "Lost"}
    assert state["feature_rules"]["discount_rate"]["maximum"] == 1
    assert len(state["centres"]) == 3 and len(state["centres"][0]) == 5
    # skops files are zip archives of JSON and arrays, not pickle streams.
    assert (folder / PIPELINE_FILE).read_bytes()[:2] == b"PK"


def test_recommended_actions_survive_storage(features, tmp_path):
    model = kmeans_model(features)
    model.segment_actions = {s: [f"act on {s}", "then measure"] for s in range(model.n_segments)}
    loaded = SegmentationModel.load(model.save(tmp_path / "m"))
    assert loaded.segment_actions == model.segment_actions


def test_a_model_stored_without_actions_loads_with_none(model, tmp_path):
    folder = model.save(tmp_path / "m")
    state = json.loads((folder / "segmentation.json").read_text())
    state.pop("segment_actions")
    (folder / "segmentation.json").write_text(json.dumps(state))
    assert SegmentationModel.load(folder).segment_actions == {}


def test_empty_segment_centre_survives_storage_as_null(features, tmp_path):
    model = kmeans_model(features)
    model.centres_[1] = np.nan
    folder = model.save(tmp_path / "m")
    assert json.loads((folder / STATE_FILE).read_text())["centres"][1][0] is None
    assert np.isnan(SegmentationModel.load(folder).centres_[1]).all()


def test_a_pipeline_with_an_untrusted_type_is_refused_before_it_is_built(model, tmp_path):
    """A crafted pipeline file naming any other type never gets constructed."""
    folder = model.save(tmp_path / "m")
    crafted = Pipeline([("scaler", _NotTrusted()), ("model", KMeans(2))])
    skops.io.dump(crafted, folder / PIPELINE_FILE)
    with pytest.raises(SegmentationError, match=r"does not\s+trust.*_NotTrusted"):
        SegmentationModel.load(folder)


class _NotTrusted(LogStandardScaler):
    pass


def test_an_unknown_model_format_is_refused(model, tmp_path):
    folder = model.save(tmp_path / "m")
    state = json.loads((folder / STATE_FILE).read_text())
    (folder / STATE_FILE).write_text(json.dumps({**state, "model_format": 99}))
    with pytest.raises(SegmentationError, match="model format 99"):
        SegmentationModel.load(folder)


def test_a_folder_without_state_is_a_clear_error(tmp_path):
    with pytest.raises(SegmentationError, match="segmentation state"):
        SegmentationModel.load(tmp_path)


# ---- every configured option round-trips through skops with TRUSTED_TYPES -----------------
OPTIONS = [(group, name) for group in SWEPT_GROUPS for name in group_options(group)]
LABELS = [f"{group}={name}" for group, name in OPTIONS]


@pytest.fixture(scope="module")
def fitted_options(features):
    """One fitted model per configured option of each swept group, the others fixed."""
    overrides = [f"sweep.search_space.{g}=[{','.join(group_options(g))}]" for g in SWEPT_GROUPS]
    space = sweep_space(compose_config("config", "+experiment=lrfmc", *overrides))
    base = {"outliers": "none", "scaler": "standard", "model": "kmeans", "k": 3}
    fitted = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # n_quantiles > n_samples on tiny data
        for (group, name), label in zip(OPTIONS, LABELS, strict=True):
            pipeline = space.pipeline(Choice.of({**base, group: name}))
            fitted[label] = SegmentationModel(pipeline, list(features.columns)).fit(features)
    return fitted


@pytest.mark.parametrize("label", LABELS)
def test_every_configured_option_round_trips(label, fitted_options, features, tmp_path):
    model = fitted_options[label]
    loaded = SegmentationModel.load(model.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.predict(features), model.predict(features))


def test_trusted_types_are_exactly_what_configured_pipelines_contain(fitted_options):
    """The explicit list stays short: a type no configured pipeline needs is not trusted."""
    needed = set()
    for model in fitted_options.values():
        needed |= set(skops.io.get_untrusted_types(data=skops.io.dumps(model.pipeline)))
    assert needed == set(TRUSTED_TYPES), (
        f"update TRUSTED_TYPES in src/model/segmentation.py: add {sorted(needed - set(TRUSTED_TYPES))}, "
        f"drop {sorted(set(TRUSTED_TYPES) - needed)}"
    )

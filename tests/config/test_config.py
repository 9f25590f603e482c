"""Every config group composes, experiments bundle what they claim, and bad config fails early."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf.errors import ConfigKeyError, ValidationError

from src.config import compose_config, group_options, register_configs
from src.config.options import option_config
from src.model.pipeline import build_pipeline

register_configs()

GROUPS = ["dataset", "cleaning", "features", "outliers", "scaler", "model", "sweep", "insight"]


def _compose(*overrides: str, config: str = "config"):
    return compose_config(config, *overrides)


@pytest.mark.parametrize(
    ("group", "option"),
    [(g, o) for g in GROUPS for o in group_options(g)],
)
def test_every_group_option_composes(group, option):
    cfg = _compose(f"{group}={option}")
    assert cfg[group] is not None


@pytest.mark.parametrize("experiment", group_options("experiment"))
def test_every_experiment_composes(experiment):
    cfg = _compose(f"+experiment={experiment}")
    assert cfg.experiment_name == experiment


@pytest.mark.parametrize("group", ["outliers", "scaler", "model"])
def test_every_estimator_option_instantiates(group):
    cfg = _compose()
    for option in group_options(group):
        est = instantiate(option_config(cfg, group, option))
        assert hasattr(est, "fit"), option


@pytest.mark.parametrize("model", group_options("model"))
def test_pipeline_sets_the_cluster_count_on_any_model(model):
    cfg = _compose()
    pipe = build_pipeline(
        option_config(cfg, "outliers", "none"),
        option_config(cfg, "scaler", "standard"),
        option_config(cfg, "model", model),
        k=7,
    )
    params = pipe.named_steps["model"].get_params()
    assert params.get("n_clusters", params.get("n_components")) == 7


def test_lrfmc_experiment_switches_features_and_keeps_other_defaults():
    cfg = _compose("+experiment=lrfmc")
    assert cfg.features.name.value == "lrfmc"
    assert cfg.dataset.name == "synthetic"
    assert cfg.mlflow.registered_model == "customer-segmentation"


def test_online_retail_experiment_uses_the_classic_cleaning():
    cfg = _compose("+experiment=online_retail_rfm")
    assert cfg.dataset.name == "online_retail"
    assert cfg.cleaning.drop_duplicates is False
    assert cfg.cleaning.drop_non_product_codes is False
    assert cfg.snapshot_date == "2011-12-10"


def test_online_retail_path_follows_the_data_dir_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGMENTATION_DATA_DIR", str(tmp_path))
    cfg = _compose("dataset=online_retail")
    assert cfg.dataset.path == f"{tmp_path}/online_retail.csv.gz"


def test_segment_shares_can_be_set_from_the_command_line():
    cfg = _compose("++dataset.segment_shares={champions:1,hibernating:3}")
    assert dict(cfg.dataset.segment_shares) == {"champions": 1.0, "hibernating": 3.0}


def test_misspelt_key_is_rejected_at_start_up():
    with pytest.raises(ConfigCompositionException) as err:
        _compose("sweep.n_trails=3")
    assert "n_trails" in str(err.value.__cause__ or err.value)


def test_wrong_type_is_rejected_at_start_up():
    with pytest.raises((ConfigCompositionException, ValidationError)) as err:
        _compose("sweep.n_trials=abc")
    assert "n_trials" in str(err.value.__cause__ or err.value)


def test_unknown_option_lists_the_valid_choices():
    with pytest.raises(ConfigCompositionException) as err:
        _compose("model=kmean")
    message = str(err.value)
    assert "kmeans" in message and "gaussian_mixture" in message


def test_unknown_dataset_type_lists_the_valid_types():
    with pytest.raises((ConfigCompositionException, ValidationError, ConfigKeyError)) as err:
        _compose("dataset.type=parquet")
    message = str(err.value.__cause__ or err.value)
    assert "synthetic" in message and "transactions" in message


@pytest.mark.parametrize("config", ["predict", "migrate"])
def test_scoring_configs_compose(config):
    cfg = _compose("dataset=online_retail", config=config)
    assert cfg.model_uri.endswith("@champion")

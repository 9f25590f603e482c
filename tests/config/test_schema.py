"""Typed options: each default once, and bad values refused at start-up with the key named."""

from __future__ import annotations

import pytest

from src.config import compose_config
from src.errors import SegmentationError
from src.jobs.segment import load_options


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("sweep.n_trials=0", "sweep.n_trials"),
        ("sweep.n_trials=-1", "sweep.n_trials"),
        ("sweep.timeout=-1", "sweep.timeout"),
        ("sweep.n_jobs=0", "sweep.n_jobs"),
        ("sweep.min_cluster_share=1.5", "sweep.min_cluster_share"),
        ("sweep.k.low=1", "sweep.k.low"),
        ("sweep.k.high=2", "sweep.k.high"),
        ("threads=0", "threads"),
        ("sweep.k_choice.tolerance=1.5", "sweep.k_choice.tolerance"),
        ("sweep.k_choice.window=-1", "sweep.k_choice.window"),
        ("sweep.k_choice.min_stability=2", "sweep.k_choice.min_stability"),
    ],
)
def test_out_of_range_values_are_refused(override, key):
    overrides = [override, "sweep.k.low=3"] if key == "sweep.k.high" else [override]
    with pytest.raises(SegmentationError, match=key.replace(".", r"\.")):
        load_options(compose_config("config", *overrides))


def test_the_composed_config_becomes_typed_options():
    options = load_options(compose_config("config", "+experiment=lrfmc"))
    assert options.sweep.n_trials == 30 and isinstance(options.sweep.seed, int)
    assert options.mlflow.experiment == "lrfmc"
    assert options.features.name.value == "lrfmc"


def test_model_options_do_not_state_the_number_of_segments():
    cfg = compose_config("config")
    assert "n_clusters" not in cfg.model


def test_every_experiment_sweeps_the_default_k_range():
    """No experiment file narrows k to get an actionable answer: the k rule decides."""
    for experiment in ("lrfmc", "rfm", "online_retail_rfm"):
        k = load_options(compose_config("config", f"+experiment={experiment}")).sweep.k
        assert (k.low, k.high) == (2, 10), experiment

"""The search space: listed options, group choices from the command line, the k range."""

from __future__ import annotations

import pytest

from src.config import compose_config
from src.errors import SegmentationError
from src.result import Choice
from src.sweep.space import command_line_choices, sweep_space


@pytest.fixture(scope="module")
def cfg():
    return compose_config("config", "+experiment=rfm")


def test_listed_options_are_swept(cfg):
    space = sweep_space(cfg)
    assert space.choices["scaler"] == list(cfg.sweep.search_space.scaler)
    assert space.size() == 3 * 3 * 3 * 9


def test_a_group_chosen_on_the_command_line_narrows_its_search(cfg):
    space = sweep_space(cfg, {"scaler": "standard"}, ["+experiment=rfm", "scaler=standard"])
    assert space.choices["scaler"] == ["standard"]
    assert space.choices["outliers"] == list(cfg.sweep.search_space.outliers)


def test_a_group_and_its_search_space_on_one_command_line_is_an_error(cfg):
    with pytest.raises(SegmentationError, match="both on the command line"):
        sweep_space(cfg, {}, ["scaler=standard", "sweep.search_space.scaler=[robust]"])


def test_only_swept_groups_count_as_choices():
    given = command_line_choices(["+experiment=rfm", "model=birch", "model.n_init=5", "seed=1"])
    assert given == {"model": "birch"}


def test_an_empty_list_means_the_composed_option():
    cfg = compose_config("config", "sweep.search_space.model=[]")
    space = sweep_space(cfg, {"model": "kmeans"})
    assert space.choices["model"] == ["kmeans"]


def test_pipeline_sets_k_on_the_model(cfg):
    pipe = sweep_space(cfg).pipeline(Choice("none", "robust", "kmeans", 7))
    assert pipe.named_steps["model"].n_clusters == 7

"""UCI Online Retail over the default k range 2..10: an actionable, stable choice of k."""

from __future__ import annotations

import pytest

from tests.conftest import build_result

pytestmark = [pytest.mark.slow, pytest.mark.real_data]

# The experiment's chosen configuration, alone, so every k of 2..10 is one trial.
ONE_CONFIGURATION = (
    "+experiment=online_retail_rfm",
    "sweep.n_trials=9",
    "sweep.sampler=grid",
    "sweep.search_space.outliers=[none]",
    "sweep.search_space.scaler=[log_standard]",
    "sweep.search_space.model=[kmeans]",
)


@pytest.fixture(scope="module")
def result(online_retail_path, monkeypatch_module):
    monkeypatch_module.setenv("SEGMENTATION_DATA_DIR", str(online_retail_path.parent))
    return build_result(base=ONE_CONFIGURATION)[0]


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_silhouette_alone_would_pick_two_segments(result):
    curve = result.k_curve.set_index("k")
    assert curve["silhouette"].idxmax() == 2


def test_the_k_rule_picks_an_actionable_stable_segmentation(result):
    assert (result.k_curve["k"].min(), result.k_curve["k"].max()) == (2, 10)
    assert result.choice.k >= 3
    assert min(result.shares) >= 0.02
    assert result.metrics["stability_ari"] >= 0.8
    assert f"k={result.choice.k}" in result.k_reason

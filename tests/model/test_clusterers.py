import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import Birch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from src.errors import InvalidParameterError, SegmentationError
from src.model.clusterers import (
    AgglomerativeNearestCentroid,
    PortableBirch,
    cluster_centres,
    distances_to_centres,
    relabel_by,
)


@parametrize_with_checks(
    [
        AgglomerativeNearestCentroid(n_clusters=3),
        AgglomerativeNearestCentroid(n_clusters=3, linkage="average", max_fit_samples=20),
        PortableBirch(n_clusters=3),
        PortableBirch(n_clusters=None, threshold=0.3),
    ]
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def _blobs(n_samples=150, centers=3, seed=0):
    return make_blobs(
        n_samples=n_samples,
        centers=centers,
        cluster_std=0.5,
        center_box=(-20, 20),
        random_state=seed,
    )


@pytest.mark.parametrize("linkage", ["ward", "complete", "average"])
def test_predict_on_training_data_equals_labels(linkage):
    X, _ = _blobs()
    model = AgglomerativeNearestCentroid(n_clusters=3, linkage=linkage).fit(X)
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_fit_predict_returns_labels():
    X, _ = _blobs()
    model = AgglomerativeNearestCentroid(n_clusters=3)
    np.testing.assert_array_equal(model.fit_predict(X), model.labels_)


def test_centres_are_cluster_means():
    X, _ = _blobs()
    model = AgglomerativeNearestCentroid(n_clusters=3).fit(X)
    expected = pd.DataFrame(X).groupby(model.labels_).mean().to_numpy()
    np.testing.assert_allclose(model.cluster_centers_, expected)


def test_new_point_goes_to_nearest_mean():
    X, _ = _blobs()
    model = AgglomerativeNearestCentroid(n_clusters=3).fit(X)
    new = np.random.default_rng(1).uniform(-30, 30, size=(40, 2))
    dist = np.linalg.norm(new[:, None, :] - model.cluster_centers_[None, :, :], axis=2)
    np.testing.assert_array_equal(model.predict(new), dist.argmin(axis=1))


def test_large_input_is_fitted_on_a_subsample_and_every_row_labelled():
    X, y = _blobs(n_samples=400, centers=4)
    model = AgglomerativeNearestCentroid(n_clusters=4, max_fit_samples=100).fit(X)
    assert model.fit_sample_size_ == 100
    assert len(model.labels_) == len(X)
    assert adjusted_rand_score(y, model.labels_) == 1.0


def test_small_input_uses_every_row():
    X, _ = _blobs(n_samples=60)
    assert AgglomerativeNearestCentroid(n_clusters=3).fit(X).fit_sample_size_ == 60


def test_subsample_is_seeded():
    X, _ = _blobs(n_samples=300, centers=4)
    fits = [
        AgglomerativeNearestCentroid(n_clusters=4, max_fit_samples=50, random_state=7).fit(X)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)


@pytest.mark.parametrize(
    "params",
    [{"n_clusters": 0}, {"n_clusters": 2.5}, {"linkage": "median"}, {"max_fit_samples": 1}],
)
def test_invalid_hyperparameter_names_the_parameter_and_the_fix(params):
    X, _ = _blobs()
    (name,) = params
    with pytest.raises(InvalidParameterError) as info:
        AgglomerativeNearestCentroid(**params).fit(X)
    assert f"The '{name}' parameter of AgglomerativeNearestCentroid" in str(info.value)
    assert f"Fix `{name}`" in str(info.value)
    assert isinstance(info.value, SegmentationError)


@pytest.mark.parametrize("n_clusters", [3, None])
def test_portable_birch_predicts_like_birch(n_clusters):
    X, _ = _blobs(n_samples=300, centers=3)
    new = np.random.default_rng(2).uniform(-25, 25, size=(100, 2))
    ours = PortableBirch(n_clusters=n_clusters, threshold=0.8).fit(X)
    theirs = Birch(n_clusters=n_clusters, threshold=0.8).fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))


def test_portable_birch_keeps_no_cf_tree():
    model = PortableBirch(n_clusters=3).fit(_blobs()[0])
    assert not any(name in vars(model) for name in ("root_", "dummy_leaf_"))


def test_portable_birch_rejects_a_bad_threshold():
    with pytest.raises(InvalidParameterError, match="'threshold' parameter of PortableBirch"):
        PortableBirch(threshold=0).fit(_blobs()[0])


def test_cluster_centres_rows_are_ordered_by_label():
    X = np.array([[0.0, 0.0], [2.0, 2.0], [10.0, 10.0], [1.0, 1.0]])
    labels = np.array([1, 1, 0, 0])
    np.testing.assert_allclose(cluster_centres(X, labels), [[5.5, 5.5], [1.0, 1.0]])


def test_cluster_centres_gives_nan_row_for_an_empty_label():
    X = np.array([[0.0], [2.0], [4.0]])
    centres = cluster_centres(X, np.array([0, 0, 2]), n_clusters=4)
    assert np.isnan(centres[[1, 3]]).all()
    np.testing.assert_allclose(centres[[0, 2]].ravel(), [1.0, 4.0])


@pytest.mark.parametrize("bad_labels", [np.array([0, -1, 1]), np.array([0.0, 1.0, 1.0])])
def test_cluster_centres_rejects_non_id_labels(bad_labels):
    with pytest.raises(ValueError, match="labels"):
        cluster_centres(np.zeros((3, 2)), bad_labels)


def test_distances_are_to_each_rows_own_centre():
    X = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    labels = np.array([0, 0, 1])
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    np.testing.assert_allclose(distances_to_centres(X, labels, centres), [0.0, 5.0, 0.0])


def test_distances_reject_centres_from_another_space():
    with pytest.raises(ValueError, match="features"):
        distances_to_centres(np.zeros((2, 3)), np.array([0, 1]), np.zeros((2, 2)))


def test_relabel_by_orders_clusters_by_descending_mean():
    monetary = np.array([5.0, 7.0, 100.0, 120.0, 30.0])
    labels = np.array([0, 0, 1, 1, 2])
    order = relabel_by(monetary, labels)
    np.testing.assert_array_equal(order[labels], [2, 2, 0, 0, 1])


def test_relabel_by_ascending_reverses_the_order():
    values = np.array([1.0, 2.0, 3.0])
    labels = np.array([0, 1, 2])
    np.testing.assert_array_equal(relabel_by(values, labels, descending=False), [0, 1, 2])


@pytest.mark.parametrize("permutation", [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]])
def test_relabel_by_makes_ids_independent_of_the_clusterers_numbering(permutation):
    rng = np.random.default_rng(0)
    partition = rng.integers(0, 3, size=60)
    values = partition * 10.0 + rng.normal(0, 1, size=60)
    reference = relabel_by(values, partition)[partition]
    shuffled = np.asarray(permutation)[partition]
    np.testing.assert_array_equal(relabel_by(values, shuffled)[shuffled], reference)

"""Clusterers not in scikit-learn, and centre/distance/relabel helpers usable with any clusterer.

Segments must score production data, so every clusterer the sweep uses needs ``predict``;
``AgglomerativeNearestCentroid`` gives hierarchical clustering one by assigning new customers to
the nearest cluster mean. Production stores fitted pipelines with skops, which cannot store
scikit-learn's ``Birch`` (its CF-tree is a graph of nodes that point at each other);
``PortableBirch`` fits one and keeps only what ``predict`` needs.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.cluster import AgglomerativeClustering, Birch
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from src.model.params import ConfigParams

__all__ = [
    "AgglomerativeNearestCentroid",
    "PortableBirch",
    "cluster_centres",
    "distances_to_centres",
    "relabel_by",
]


def _check_labels(labels, n_samples: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n_samples:
        raise ValueError(
            f"labels must be a 1-D array with one entry per row of X ({n_samples}), "
            f"got shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer cluster ids, got dtype {labels.dtype}.")
    if len(labels) and labels.min() < 0:
        raise ValueError(
            "labels must be non-negative cluster ids; negative ids (e.g. DBSCAN noise, -1) "
            "have no centre. Assign or drop those rows first."
        )
    return labels


def cluster_centres(X, labels, n_clusters: int | None = None) -> np.ndarray:
    """Mean of each cluster as a (k, d) array whose row i is the centre of label i.

    Works for any clusterer (GMM, Birch, ...), since not all expose centres in the input space.
    ``k`` is ``n_clusters`` or ``labels.max() + 1``; a label with no rows gets a row of NaN so
    row indices still equal label ids.
    """
    X = check_array(X, dtype=np.float64)
    labels = _check_labels(labels, X.shape[0])
    k = int(labels.max()) + 1 if n_clusters is None else int(n_clusters)
    if len(labels) and labels.max() >= k:
        raise ValueError(f"labels contain id {labels.max()} but n_clusters is {k}.")
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, X)
    counts = np.bincount(labels, minlength=k).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def distances_to_centres(X, labels, centres) -> np.ndarray:
    """Euclidean distance of each row to the centre of its own cluster."""
    X = check_array(X, dtype=np.float64)
    labels = _check_labels(labels, X.shape[0])
    centres = check_array(centres, dtype=np.float64, ensure_all_finite="allow-nan")
    if centres.shape[1] != X.shape[1]:
        raise ValueError(
            f"centres have {centres.shape[1]} features but X has {X.shape[1]}; compute both "
            "in the same space."
        )
    if len(labels) and labels.max() >= len(centres):
        raise ValueError(f"label {labels.max()} has no centre (only {len(centres)} centres).")
    return np.linalg.norm(X - centres[labels], axis=1)


def relabel_by(values, labels, *, descending: bool = True) -> np.ndarray:
    """Order cluster ids by the mean of ``values`` so segment ids are stable across refits.

    Returns an int array ``order`` with ``new_label = order[old_label]``: with
    ``descending=True`` the cluster with the highest mean (e.g. monetary) becomes 0. Ties keep
    the old id order. Ids with no rows are placed last.
    """
    values = np.asarray(values, dtype=float)
    labels = _check_labels(labels, len(values))
    k = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=k)
    sums = np.bincount(labels, weights=values, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    key = -means if descending else means
    key = np.where(counts > 0, key, np.inf)
    ranked = np.argsort(key, kind="stable")  # ranked[new] = old
    order = np.empty(k, dtype=np.intp)
    order[ranked] = np.arange(k)
    return order


class AgglomerativeNearestCentroid(ConfigParams, ClusterMixin, BaseEstimator):
    """Agglomerative clustering that can ``predict``: new rows go to the nearest cluster mean.

    On the training data ``predict`` agrees with ``labels_`` wherever the clusters are separated
    by their means (always for well-separated groups; hierarchical merges are not Voronoi cells in
    general, so a few boundary rows may differ).

    Ward linkage needs O(n^2) memory, so with more than ``max_fit_samples`` rows the hierarchy is
    built on a random subsample of that size (seeded by ``random_state``) and the remaining rows
    are assigned to the nearest subsample cluster mean.

    Parameters
    ----------
    n_clusters : int, default=4
    linkage : {"ward", "complete", "average", "single"}, default="ward"
        Euclidean distance is used for every linkage, matching the nearest-mean assignment.
    max_fit_samples : int, default=20_000
        Largest number of rows the hierarchy is built on.
    random_state : int, RandomState or None, default=0
        Seed of the subsample.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Mean of each cluster over the rows the hierarchy was built on.
    fit_sample_size_ : int
        Number of rows the hierarchy was built on (``min(n_samples, max_fit_samples)``).
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "linkage": [StrOptions({"ward", "complete", "average", "single"})],
        "max_fit_samples": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_clusters: int = 4,
        linkage: str = "ward",
        max_fit_samples: int = 20_000,
        random_state=0,
    ):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} is smaller than n_clusters={self.n_clusters}; "
                "lower n_clusters or provide more rows."
            )
        if n_samples > self.max_fit_samples:
            rng = check_random_state(self.random_state)
            fit_idx = np.sort(rng.choice(n_samples, self.max_fit_samples, replace=False))
        else:
            fit_idx = np.arange(n_samples)
        X_fit = X[fit_idx]
        fit_labels = AgglomerativeClustering(
            n_clusters=self.n_clusters, linkage=self.linkage
        ).fit_predict(X_fit)
        self.cluster_centers_ = cluster_centres(X_fit, fit_labels, self.n_clusters)
        self.fit_sample_size_ = len(fit_idx)
        if len(fit_idx) < n_samples:
            self.labels_ = pairwise_distances_argmin(X, self.cluster_centers_)
            self.labels_[fit_idx] = fit_labels
        else:
            self.labels_ = fit_labels
        return self

    def predict(self, X) -> np.ndarray:
        """Index of the nearest cluster mean (Euclidean) for each row."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return pairwise_distances_argmin(X, self.cluster_centers_)


class PortableBirch(ConfigParams, ClusterMixin, BaseEstimator):
    """scikit-learn's ``Birch`` that keeps only what ``predict`` needs, so skops can store it.

    ``fit`` runs ``sklearn.cluster.Birch`` and keeps its subcluster centres, their global labels
    and the training labels; ``predict`` assigns each row the label of its nearest subcluster
    centre, exactly as ``Birch.predict`` does. The CF-tree itself (only needed by
    ``partial_fit``) is dropped: skops refuses Birch because that tree's nodes refer to each
    other. Hand-written for that reason only; the clustering is scikit-learn's.

    Parameters
    ----------
    threshold : float, default=0.5
    branching_factor : int, default=50
    n_clusters : int or None, default=3
        As in ``Birch``: the number of final clusters (None: the subclusters themselves).

    Attributes
    ----------
    subcluster_centers_ : ndarray of shape (n_subclusters, n_features)
    subcluster_labels_ : ndarray of shape (n_subclusters,)
    labels_ : ndarray of shape (n_samples,)
    """

    _parameter_constraints = {
        "threshold": Birch._parameter_constraints["threshold"],
        "branching_factor": Birch._parameter_constraints["branching_factor"],
        "n_clusters": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, threshold: float = 0.5, branching_factor: int = 50, n_clusters=3):
        self.threshold = threshold
        self.branching_factor = branching_factor
        self.n_clusters = n_clusters

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64)
        birch = Birch(
            threshold=self.threshold,
            branching_factor=self.branching_factor,
            n_clusters=self.n_clusters,
        ).fit(X)
        self.subcluster_centers_ = birch.subcluster_centers_
        self.subcluster_labels_ = birch.subcluster_labels_
        self.labels_ = birch.labels_
        return self

    def predict(self, X) -> np.ndarray:
        """Label of the nearest subcluster centre (Euclidean) for each row."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.subcluster_labels_[pairwise_distances_argmin(X, self.subcluster_centers_)]

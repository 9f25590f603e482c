import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from src.columns import FREQUENCY, MONETARY, RECENCY
from src.errors import SegmentationError
from src.model.evaluation import (
    DegenerateClustering,
    EvaluationSpace,
    KChoiceRule,
    adjusted_rand,
    choose_k,
    evaluate_labels,
    knee_point,
    passes_min_share,
    silhouette_sample,
    stability_score,
)


def _features(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            RECENCY: rng.integers(0, 365, n).astype(float),
            FREQUENCY: rng.poisson(3, n) + 1.0,
            MONETARY: rng.lognormal(5, 1.5, n),
        }
    )


def _blobs(n_samples=300, centers=3, seed=0):
    return make_blobs(n_samples=n_samples, centers=centers, cluster_std=0.6, random_state=seed)


# --- EvaluationSpace -------------------------------------------------------------------------


def test_evaluation_space_standardises_the_log_of_every_column():
    features = _features()
    X = EvaluationSpace().fit_transform(features)
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0)
    np.testing.assert_allclose(
        np.corrcoef(X[:, 2], np.log1p(features[MONETARY]))[0, 1], 1.0, rtol=1e-12
    )


def test_evaluation_space_gives_constant_column_scale_one():
    features = _features().assign(**{MONETARY: 50.0})
    X = EvaluationSpace().fit_transform(features)
    np.testing.assert_array_equal(X[:, 2], 0.0)


def test_evaluation_space_is_fixed_after_fit():
    space = EvaluationSpace().fit(_features(seed=0))
    other = _features(seed=1)
    first = space.transform(other)
    space.transform(_features(seed=2))
    np.testing.assert_array_equal(space.transform(other), first)


def test_evaluation_space_matches_columns_by_name():
    features = _features()
    space = EvaluationSpace().fit(features)
    shuffled = features[[MONETARY, RECENCY, FREQUENCY]]
    np.testing.assert_array_equal(space.transform(shuffled), space.transform(features))


def test_evaluation_space_handles_negative_values():
    features = _features().assign(**{MONETARY: lambda d: d[MONETARY] - 500})
    assert np.isfinite(EvaluationSpace().fit_transform(features)).all()


def test_evaluation_space_reports_missing_column():
    space = EvaluationSpace().fit(_features())
    with pytest.raises(SegmentationError, match=MONETARY):
        space.transform(_features().drop(columns=MONETARY))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_evaluation_space_reports_non_finite_column(bad):
    features = _features()
    features.loc[3, FREQUENCY] = bad
    with pytest.raises(SegmentationError, match=FREQUENCY):
        EvaluationSpace().fit(features)


# --- evaluate_labels -------------------------------------------------------------------------


def test_evaluate_labels_matches_sklearn_on_small_data():
    X, labels = _blobs()
    metrics = evaluate_labels(X, labels)
    assert metrics["silhouette"] == pytest.approx(silhouette_score(X, labels))
    assert metrics["davies_bouldin"] == pytest.approx(davies_bouldin_score(X, labels))
    assert metrics["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, labels))
    assert metrics["n_clusters"] == 3


def test_evaluate_labels_uses_a_seeded_sample_above_sample_size():
    X, labels = _blobs(n_samples=600)
    metrics = evaluate_labels(X, labels, sample_size=100, random_state=3)
    expected = silhouette_score(X, labels, sample_size=100, random_state=3)
    assert metrics["silhouette"] == pytest.approx(expected)
    assert metrics["silhouette"] != pytest.approx(silhouette_score(X, labels), abs=1e-9)


def test_evaluate_labels_is_deterministic_for_a_seed():
    X, labels = _blobs(n_samples=600)
    runs = [evaluate_labels(X, labels, sample_size=100, random_state=5) for _ in range(2)]
    assert runs[0] == runs[1]


def test_cluster_shares_are_ordered_by_label():
    X = np.arange(10.0).reshape(-1, 1)
    labels = np.array([1] * 6 + [0] * 3 + [2])
    metrics = evaluate_labels(X, labels)
    assert metrics["cluster_shares"] == pytest.approx([0.3, 0.6, 0.1])
    assert metrics["min_cluster_share"] == pytest.approx(0.1)
    assert metrics["max_cluster_share"] == pytest.approx(0.6)


@pytest.mark.parametrize(
    "labels", [np.zeros(5, dtype=int), np.arange(5)], ids=["one-cluster", "one-row-per-cluster"]
)
def test_degenerate_labels_raise(labels):
    X = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(DegenerateClustering, match="cluster"):
        evaluate_labels(X, labels)


def test_degenerate_clustering_is_a_value_error():
    assert issubclass(DegenerateClustering, ValueError)


# --- the minimum-share rule ------------------------------------------------------------------


def _two_groups_and_a_few_extremes(seed=0):
    rng = np.random.default_rng(seed)
    groups = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal((6, 0), 1, (200, 2))])
    extremes = rng.normal(60, 1, (6, 2))
    return np.vstack([groups, extremes])


def _kmeans_candidates(X, ks=(2, 3, 4)):
    return {
        k: evaluate_labels(X, KMeans(n_clusters=k, n_init=5, random_state=0).fit_predict(X))
        for k in ks
    }


def test_best_silhouette_is_the_extreme_points_split_and_fails_the_share_rule():
    candidates = _kmeans_candidates(_two_groups_and_a_few_extremes())
    best = max(candidates.values(), key=lambda m: m["silhouette"])
    assert best["silhouette"] > 0.9
    assert not passes_min_share(best)


def test_partition_without_a_tiny_cluster_passes_the_share_rule():
    X = _two_groups_and_a_few_extremes()
    merged = np.r_[np.zeros(200, dtype=int), np.ones(206, dtype=int)]
    assert passes_min_share(evaluate_labels(X, merged))


@pytest.mark.parametrize(
    ("min_share", "threshold", "expected"),
    [(0.019, 0.02, False), (0.02, 0.02, True), (0.05, 0.02, True), (0.05, 0.1, False)],
)
def test_passes_min_share_threshold(min_share, threshold, expected):
    assert passes_min_share({"min_cluster_share": min_share}, threshold) is expected


# --- silhouette_sample -----------------------------------------------------------------------


def test_silhouette_sample_mean_equals_evaluate_labels_silhouette():
    X, labels = _blobs(n_samples=600)
    idx, values = silhouette_sample(X, labels, sample_size=150, random_state=2)
    assert len(idx) == len(np.unique(idx)) == len(values) == 150
    expected = evaluate_labels(X, labels, sample_size=150, random_state=2)["silhouette"]
    assert values.mean() == pytest.approx(expected)


def test_silhouette_sample_uses_every_row_when_small():
    X, labels = _blobs(n_samples=80)
    idx, _ = silhouette_sample(X, labels, sample_size=100, random_state=0)
    np.testing.assert_array_equal(idx, np.arange(80))


# --- stability -------------------------------------------------------------------------------


def _kmeans4():
    return KMeans(n_clusters=4, n_init=1, random_state=0)


def test_stability_is_near_one_for_separated_blobs():
    X, _ = _blobs(n_samples=300, centers=4)
    result = stability_score(_kmeans4, X, n_bootstraps=5)
    assert result["mean"] > 0.95
    assert len(result["scores"]) == 5


def test_stability_is_lower_for_uniform_noise():
    X_blobs, _ = _blobs(n_samples=300, centers=4)
    X_noise = np.random.default_rng(0).uniform(size=(300, 5))
    noise = stability_score(_kmeans4, X_noise, n_bootstraps=5)
    blobs = stability_score(_kmeans4, X_blobs, n_bootstraps=5)
    assert noise["mean"] < blobs["mean"] - 0.3
    assert noise["std"] > 0


def test_stability_is_deterministic_for_a_seed():
    X = np.random.default_rng(0).uniform(size=(200, 3))
    runs = [stability_score(_kmeans4, X, n_bootstraps=3, random_state=4) for _ in range(2)]
    assert runs[0] == runs[1]


def test_stability_accepts_dataframes_and_smaller_bootstrap_samples():
    X, _ = _blobs(n_samples=300, centers=4)
    result = stability_score(_kmeans4, pd.DataFrame(X), n_bootstraps=3, sample_size=100)
    assert result["mean"] > 0.95


# --- knee point ------------------------------------------------------------------------------


@pytest.mark.parametrize("elbow", [3, 4, 6])
def test_knee_point_finds_an_obvious_elbow(elbow):
    ks = np.arange(1, 11)
    inertias = np.where(ks <= elbow, 1000.0 - 200.0 * (ks - 1), 1000.0 - 200.0 * (elbow - 1))
    inertias = inertias - 5.0 * np.maximum(ks - elbow, 0)  # still decreasing after the elbow
    assert knee_point(ks, inertias) == elbow


def test_knee_point_on_a_convex_curve():
    ks = np.arange(2, 11)
    inertias = 100.0 / ks**2 + 1.0
    knee = knee_point(ks, inertias)
    assert 3 <= knee <= 5


def test_knee_point_ignores_input_order():
    ks = np.array([5, 1, 3, 2, 4])
    inertias = np.array([8.0, 100.0, 12.0, 40.0, 10.0])
    assert knee_point(ks, inertias) == knee_point(np.sort(ks), inertias[np.argsort(ks)])


@pytest.mark.parametrize("inertias", [[5.0, 4.0, 3.0, 2.0, 1.0], [3.0, 3.0, 3.0, 3.0, 3.0]])
def test_a_straight_or_flat_curve_has_no_knee(inertias):
    assert knee_point(range(2, 7), inertias) is None


# --- choosing k --------------------------------------------------------------------------------


def k_curve(silhouette, davies_bouldin=None, min_share=None, knee_at=5, ks=range(2, 11)):
    """A curve over k built in code: inertia with a sharp bend at ``knee_at``."""
    ks = np.asarray(list(ks))
    inertia = np.where(ks <= knee_at, 1000.0 - 150.0 * (ks - ks[0]), 0.0)
    inertia = np.where(
        ks > knee_at,
        inertia.max() * 0 + (1000.0 - 150.0 * (knee_at - ks[0])) - 10.0 * (ks - knee_at),
        inertia,
    )
    n = len(ks)
    return pd.DataFrame(
        {
            "k": ks,
            "inertia": inertia,
            "silhouette": silhouette,
            "davies_bouldin": davies_bouldin if davies_bouldin is not None else [1.0] * n,
            "min_cluster_share": min_share if min_share is not None else [0.1] * n,
        }
    )


RULE = KChoiceRule(min_cluster_share=0.02, window=1, tolerance=0.1, min_stability=0.8)


class Stability:
    """A stability function built in code that records which k it was asked about."""

    def __init__(self, scores):
        self.scores, self.asked = scores, []

    def __call__(self, k):
        self.asked.append(k)
        return self.scores.get(k, 0.95)


# silhouette of k = 2..10: k=2 best overall, the others close to each other (skewed retail data)
SKEWED = [0.43, 0.34, 0.33, 0.32, 0.31, 0.30, 0.30, 0.28, 0.28]


def test_the_knee_outweighs_silhouettes_preference_for_two_segments():
    decision = choose_k(k_curve(SKEWED), RULE, Stability({}))
    assert decision.knee == 5
    assert decision.k == 6  # the largest well-separated stable k next to the knee


def test_an_unstable_candidate_gives_way_to_the_next_smaller_one():
    stability = Stability({6: 0.6})
    decision = choose_k(k_curve(SKEWED), RULE, stability)
    assert decision.k == 5
    assert stability.asked == [6, 5]  # only the candidates the rule needs, largest first


def test_a_k_with_a_tiny_segment_is_not_acceptable():
    shares = [0.3, 0.2, 0.1, 0.08, 0.01, 0.01, 0.01, 0.01, 0.01]
    decision = choose_k(k_curve(SKEWED, min_share=shares), RULE, Stability({}))
    assert decision.k == 5
    verdict = decision.table.set_index("k")["verdict"]
    assert verdict[6].startswith("smallest segment 1.0%")


def test_a_clear_separation_peak_wins_over_a_larger_k():
    peak = [0.40, 0.45, 0.50, 0.66, 0.45, 0.40, 0.35, 0.30, 0.30]
    decision = choose_k(k_curve(peak), RULE, Stability({}))
    assert decision.k == 5


def test_davies_bouldin_also_has_to_be_near_the_best():
    flat = [0.40, 0.35, 0.34, 0.34, 0.34, 0.30, 0.30, 0.28, 0.28]
    db = [0.9, 1.0, 1.0, 1.0, 1.5, 1.2, 1.2, 1.2, 1.2]
    decision = choose_k(k_curve(flat, davies_bouldin=db), RULE, Stability({}))
    assert decision.k == 5  # k=6 separates as well by silhouette but not by Davies-Bouldin


def test_without_a_stable_candidate_the_best_silhouette_is_kept_and_said():
    stability = Stability({4: 0.5, 5: 0.5, 6: 0.5, 2: 0.99})
    decision = choose_k(k_curve(SKEWED), RULE, stability)
    assert decision.k == 2
    assert "no well-separated k near it reached stability" in decision.reason


def test_without_stability_the_largest_well_separated_candidate_is_chosen():
    decision = choose_k(k_curve(SKEWED), RULE, None)
    assert decision.k == 6
    assert decision.table["stability_ari"].isna().all()
    assert "stability not measured" in decision.reason


def test_only_k_with_a_trial_can_be_chosen():
    decision = choose_k(k_curve(SKEWED), RULE, Stability({}), candidates={2, 3, 5})
    assert decision.k == 5


def test_the_table_marks_one_chosen_k_and_explains_every_other():
    decision = choose_k(k_curve(SKEWED), RULE, Stability({}))
    table = decision.table
    assert table["chosen"].sum() == 1
    assert table.loc[table["chosen"], "k"].item() == decision.k
    assert (table["verdict"] == "chosen").sum() == 1
    assert table["verdict"].str.len().gt(0).all()
    assert f"k={decision.k}" in decision.reason and "knee" in decision.reason


def test_a_curve_without_a_knee_judges_every_acceptable_k():
    ks = range(2, 7)
    curve = pd.DataFrame(
        {
            "k": list(ks),
            "inertia": [5.0, 4.0, 3.0, 2.0, 1.0],
            "silhouette": [0.3, 0.5, 0.3, 0.3, 0.2],
            "davies_bouldin": [1.0] * 5,
            "min_cluster_share": [0.1] * 5,
        }
    )
    decision = choose_k(curve, RULE, Stability({}))
    assert decision.knee is None and decision.k == 3


@pytest.mark.parametrize(
    ("n", "k", "d", "chunk_rows"),
    [(600, 4, 3, 128), (257, 2, 5, 256), (90, 6, 2, 1000)],
)
def test_silhouette_values_equal_scikit_learn(n, k, d, chunk_rows):
    from sklearn.metrics import silhouette_samples

    from src.model.evaluation import silhouette_values

    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, d)) + rng.integers(0, 3, size=(n, 1))
    labels = rng.integers(0, k, n)
    labels[0] = k  # a singleton cluster scores 0, as in scikit-learn
    np.testing.assert_allclose(
        silhouette_values(X, labels, chunk_rows=chunk_rows),
        silhouette_samples(X, labels),
        atol=1e-6,
    )


def test_adjusted_rand_of_string_labels_is_scikit_learns():
    rng = np.random.default_rng(0)
    planted = rng.choice(["champions", "loyal", "lost"], 500)
    labels = rng.integers(0, 4, 500)
    assert adjusted_rand(planted, labels) == pytest.approx(adjusted_rand_score(planted, labels))
    assert adjusted_rand(planted, planted) == 1.0

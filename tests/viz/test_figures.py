import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from mpl_toolkits.mplot3d import Axes3D

from src.columns import FREQUENCY, LRFMC_FEATURES, MONETARY, RECENCY, RFM_FEATURES
from src.errors import SegmentationError
from src.viz import choosing_k, profiles, scatter, style
from src.viz import optuna as optuna_figures

optuna.logging.set_verbosity(optuna.logging.ERROR)

FEATURE_SETS = {"rfm": RFM_FEATURES, "lrfmc": LRFMC_FEATURES}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_features(n: int, k: int, columns, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers whose features shift with their segment so every profile differs."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    scale = {
        "length_days": 60.0,
        "recency_days": 30.0,
        "frequency": 2.0,
        "monetary": 150.0,
        "discount_rate": 0.03,
    }
    data = {
        c: (labels + 1) * scale[c] * rng.uniform(0.8, 1.2, n) + (1.0 if c == FREQUENCY else 0.0)
        for c in columns
    }
    return pd.DataFrame(data), labels


def make_profile(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    profile = features.groupby(labels).mean()
    profile.index.name = "segment_id"
    return profile


def polygons(ax) -> list[Polygon]:
    return [p for p in ax.patches if isinstance(p, Polygon)]


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def vertical_lines_at(ax, x: float) -> list:
    return [line for line in ax.get_lines() if np.allclose(np.asarray(line.get_xdata(), float), x)]


K_AND_FEATURES = [(k, fs) for k in (2, 5) for fs in ("rfm", "lrfmc")]


# ---- colours and labels ---------------------------------------------------------------------


def test_segment_colour_depends_only_on_the_id():
    assert style.segment_colours([0, 1, 2])[2] == style.segment_colours([2, 7])[2]


def test_segment_colours_are_distinct_up_to_twelve_segments():
    colours = style.segment_colours(range(12))
    assert len(set(colours.values())) == 12


@pytest.mark.parametrize("bad", [["a", "b"], [0.5, 1.0]])
def test_non_integer_labels_are_a_user_error(bad):
    with pytest.raises(SegmentationError):
        profiles.cluster_size_bars(bad)


# ---- radar ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "feature_set"), K_AND_FEATURES)
def test_radar_chart_has_one_polygon_per_segment_and_one_spoke_per_feature(k, feature_set):
    features, labels = make_features(200, k, FEATURE_SETS[feature_set])
    fig = profiles.radar_chart(make_profile(features, labels), population=features)
    (ax,) = fig.axes
    assert len(polygons(ax)) == k
    assert len(ax.get_xticklabels()) == len(FEATURE_SETS[feature_set])


def test_radar_chart_legend_uses_names_and_falls_back_to_segment_ids():
    features, labels = make_features(90, 3, RFM_FEATURES)
    fig = profiles.radar_chart(make_profile(features, labels), names={0: "Champions"})
    assert legend_texts(fig) == ["Champions", "Segment 1", "Segment 2"]


def test_radar_recency_axis_is_inverted_so_recent_buyers_plot_further_out():
    profile = pd.DataFrame(
        {RECENCY: [10.0, 300.0], FREQUENCY: [5.0, 5.0], MONETARY: [100.0, 100.0]},
        index=pd.Index([0, 1], name="segment_id"),
    )
    population = pd.DataFrame({RECENCY: np.arange(1.0, 400.0), FREQUENCY: 5.0, MONETARY: 100.0})
    fig = profiles.radar_chart(profile, names={0: "recent", 1: "lapsed"}, population=population)
    (ax,) = fig.axes
    spoke = list(profile.columns).index(RECENCY)
    radius = {line.get_label(): line.get_ydata()[spoke] for line in ax.get_lines()}
    assert radius["recent"] > radius["lapsed"]
    assert "recent" in ax.get_xticklabels()[spoke].get_text()


def test_radar_values_are_population_percentile_ranks():
    profile = pd.DataFrame({MONETARY: [0.0, 50.5, 1000.0]}, index=[0, 1, 2])
    population = pd.DataFrame({MONETARY: np.arange(1.0, 101.0)})
    values = profiles.radar_values(profile, population)
    np.testing.assert_allclose(values[MONETARY], [0.0, 0.5, 1.0])


def test_radar_values_without_population_are_min_max_across_segments():
    profile = pd.DataFrame({MONETARY: [10.0, 30.0, 20.0], RECENCY: [5.0, 50.0, 95.0]})
    values = profiles.radar_values(profile)
    np.testing.assert_allclose(values[MONETARY], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(values[RECENCY], [1.0, 0.5, 0.0])


def test_radar_ignores_non_feature_profile_columns():
    features, labels = make_features(100, 2, RFM_FEATURES)
    profile = make_profile(features, labels)
    profile.insert(0, "n_customers", [50, 50])
    profile.insert(1, "share", [0.5, 0.5])
    assert list(profiles.radar_values(profile).columns) == list(RFM_FEATURES)


def test_radar_population_missing_a_feature_is_a_user_error():
    features, labels = make_features(100, 2, RFM_FEATURES)
    with pytest.raises(SegmentationError, match=MONETARY):
        profiles.radar_chart(
            make_profile(features, labels), population=features.drop(columns=MONETARY)
        )


@pytest.mark.parametrize(("k", "feature_set"), K_AND_FEATURES)
def test_radar_grid_draws_one_small_radar_per_segment(k, feature_set):
    features, labels = make_features(200, k, FEATURE_SETS[feature_set])
    fig = profiles.radar_grid(make_profile(features, labels), population=features)
    polar_axes = [ax for ax in fig.axes if ax.name == "polar"]
    assert len(polar_axes) == k
    assert all(len(polygons(ax)) == 1 for ax in polar_axes)


# ---- bars -----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 5])
def test_size_bars_lengths_equal_segment_counts(k):
    labels = np.repeat(np.arange(k), np.arange(1, k + 1) * 7)
    fig = profiles.cluster_size_bars(labels)
    (ax,) = fig.axes
    widths = [p.get_width() for p in ax.patches if isinstance(p, Rectangle)]
    assert widths == [7 * (i + 1) for i in range(k)]


def test_size_bars_are_labelled_with_segment_names():
    fig = profiles.cluster_size_bars([0, 0, 1, 2], names={1: "Loyal"})
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["Segment 0", "Loyal", "Segment 2"]


@pytest.mark.parametrize(("k", "feature_set"), K_AND_FEATURES)
def test_mean_bars_one_panel_per_feature_with_bar_heights_equal_means(k, feature_set):
    features, labels = make_features(200, k, FEATURE_SETS[feature_set])
    profile = make_profile(features, labels)
    fig = profiles.cluster_mean_bars(profile)
    assert len(fig.axes) == len(FEATURE_SETS[feature_set])
    for ax, column in zip(fig.axes, FEATURE_SETS[feature_set], strict=True):
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, profile[column])
    assert len(legend_texts(fig)) == k


# ---- choosing k -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plot", "values", "keyword"),
    [
        (choosing_k.elbow_plot, [900.0, 500.0, 300.0, 260.0, 240.0, 230.0], "knee"),
        (choosing_k.silhouette_vs_k, [0.41, 0.52, 0.47, 0.40, 0.38, 0.35], "best_k"),
    ],
)
@pytest.mark.parametrize("mark", [3, 5])
def test_metric_vs_k_marks_the_given_k(plot, values, keyword, mark):
    fig = plot(list(range(2, 8)), values, **{keyword: mark})
    (ax,) = fig.axes
    assert vertical_lines_at(ax, mark)
    assert any(str(mark) in text.get_text() for text in ax.get_legend().get_texts())


def test_elbow_plot_without_knee_draws_no_marker():
    fig = choosing_k.elbow_plot([2, 3, 4], [10.0, 6.0, 5.0])
    assert not any(vertical_lines_at(fig.axes[0], x) for x in (2, 3, 4))


def test_silhouette_vs_k_line_follows_best_trial_per_k():
    fig = choosing_k.silhouette_vs_k([2, 2, 3, 3], [0.2, 0.6, 0.5, 0.1])
    line = next(line for line in fig.axes[0].get_lines() if len(line.get_xdata()) == 2)
    np.testing.assert_allclose(line.get_ydata(), [0.6, 0.5])


@pytest.mark.parametrize("k", [2, 5])
def test_silhouette_diagram_has_one_band_per_segment_and_an_average_line(k):
    rng = np.random.default_rng(0)
    labels = np.arange(300) % k
    values = rng.uniform(-0.2, 0.8, 300)
    names = {i: f"name {i}" for i in range(k)}
    fig = choosing_k.silhouette_diagram(values, labels, names, average=0.3)
    (ax,) = fig.axes
    assert len(ax.collections) == k
    assert vertical_lines_at(ax, 0.3)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(names.values())


def test_silhouette_diagram_rejects_misaligned_labels():
    with pytest.raises(SegmentationError):
        choosing_k.silhouette_diagram(np.zeros(5), np.zeros(4, dtype=int))


# ---- scatters -------------------------------------------------------------------------------


def scatter_offsets(ax) -> np.ndarray:
    """Offsets of the customer points (the largest scatter on the axes)."""
    return max((c.get_offsets() for c in ax.collections), key=len)


@pytest.mark.parametrize(("k", "feature_set"), K_AND_FEATURES)
def test_pca_scatter_caps_points_and_lists_every_segment(k, feature_set):
    features, labels = make_features(500, k, FEATURE_SETS[feature_set])
    fig = scatter.pca_scatter(features.to_numpy(), labels, max_points=120)
    (ax,) = fig.axes
    assert len(scatter_offsets(ax)) == 120
    assert len(legend_texts(fig)) == k + 1  # segments + centre marker
    assert "% of variance" in ax.get_xlabel()


def test_pca_scatter_sample_is_deterministic_for_a_seed():
    features, labels = make_features(500, 3, RFM_FEATURES)
    X = features.to_numpy()
    first = scatter_offsets(scatter.pca_scatter(X, labels, max_points=50, random_state=1).axes[0])
    again = scatter_offsets(scatter.pca_scatter(X, labels, max_points=50, random_state=1).axes[0])
    other = scatter_offsets(scatter.pca_scatter(X, labels, max_points=50, random_state=2).axes[0])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_pca_scatter_shows_everyone_when_below_the_cap():
    features, labels = make_features(80, 2, RFM_FEATURES)
    fig = scatter.pca_scatter(features.to_numpy(), labels, max_points=5000)
    assert len(scatter_offsets(fig.axes[0])) == 80


@pytest.mark.parametrize(("k", "feature_set"), K_AND_FEATURES)
def test_scatter_3d_caps_points_and_labels_log_axes(k, feature_set):
    features, labels = make_features(400, k, FEATURE_SETS[feature_set])
    fig = scatter.scatter_3d(features, labels, max_points=150)
    (ax,) = fig.axes
    assert isinstance(ax, Axes3D)
    (points,) = ax.collections
    assert len(points.get_offsets()) == 150
    assert "log scale" in ax.get_zlabel() and "log scale" not in ax.get_xlabel()
    assert len(legend_texts(fig)) == k


def test_scatter_3d_missing_column_is_a_user_error():
    features, labels = make_features(50, 2, (RECENCY, FREQUENCY))
    with pytest.raises(SegmentationError, match=MONETARY):
        scatter.scatter_3d(features, labels)


@pytest.mark.parametrize(("k", "feature_set"), K_AND_FEATURES)
def test_scatter_matrix_has_a_panel_per_feature_pair_and_caps_points(k, feature_set):
    columns = FEATURE_SETS[feature_set]
    features, labels = make_features(300, k, columns)
    fig = scatter.scatter_matrix(features, labels, max_points=100)
    assert len(fig.axes) == len(columns) ** 2
    off_diagonal = fig.axes[1]
    (points,) = off_diagonal.collections
    assert len(points.get_offsets()) == 100
    assert len(legend_texts(fig)) == k


# ---- optuna ---------------------------------------------------------------------------------


def make_study(n_trials: int, varying=("k", "scaler"), seed: int = 0) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed))

    def objective(trial: optuna.Trial) -> float:
        score = 0.0
        if "k" in varying:
            score -= abs(trial.suggest_int("k", 2, 12) - 4) * 0.05
        if "scaler" in varying:
            scaler = trial.suggest_categorical("scaler", ["standard", "robust", "log"])
            score += 0.1 if scaler == "log" else 0.0
        trial.suggest_categorical("algorithm", ["kmeans"])  # never varies
        return score + trial.number * 1e-4

    study.optimize(objective, n_trials=n_trials)
    return study


def test_optuna_history_returns_a_figure_without_changing_global_style():
    before = dict(matplotlib.rcParams)
    fig = optuna_figures.optuna_history(make_study(5))
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title(loc="left")
    assert matplotlib.rcParams["axes.facecolor"] == before["axes.facecolor"]


def test_optuna_importances_show_only_the_settings_that_varied():
    fig = optuna_figures.optuna_importances(make_study(20))
    labels = {t.get_text() for t in fig.axes[0].get_yticklabels()}
    assert labels == {"k", "scaler"}


@pytest.mark.parametrize(
    ("n_trials", "varying"),
    [(1, ("k", "scaler")), (10, ("k",)), (0, ("k", "scaler"))],
    ids=["one-trial", "one-varying-setting", "no-trials"],
)
def test_optuna_importances_is_none_when_there_is_nothing_to_compare(n_trials, varying):
    assert optuna_figures.optuna_importances(make_study(n_trials, varying)) is None


def test_optuna_importances_is_none_when_every_score_is_equal():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: 0.0 * t.suggest_int("k", 2, 9) * t.suggest_float("a", 0, 1), 8)
    assert optuna_figures.optuna_importances(study) is None


# ---- export ---------------------------------------------------------------------------------


def test_figure_to_png_bytes_returns_png_and_closes_the_figure():
    fig = profiles.cluster_size_bars([0, 1, 1])
    open_before = len(plt.get_fignums())
    png = style.to_png(fig)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(plt.get_fignums()) == open_before - 1


def test_both_k_figures_mark_the_chosen_k_alike():
    ks, inertia, silhouette = [2, 3, 4, 5], [10.0, 6.0, 5.0, 4.5], [0.3, 0.5, 0.45, 0.4]
    elbow = choosing_k.elbow_plot(ks, inertia, knee=3, chosen_k=4)
    sil = choosing_k.silhouette_vs_k(ks, silhouette, best_k=4, knee=3)
    styles = [
        {line.get_label(): (line.get_color(), line.get_linestyle()) for line in f.axes[0].lines}
        for f in (elbow, sil)
    ]
    assert styles[0]["Chosen k = 4"] == styles[1]["Chosen k = 4"]
    assert styles[0]["Knee at k = 3"] == styles[1]["Knee at k = 3"]

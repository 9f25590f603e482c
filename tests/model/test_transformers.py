import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError as SklearnInvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from src.errors import InvalidParameterError, SegmentationError
from src.model.transformers import (
    IQRClipper,
    IsolationForestFilter,
    LogStandardScaler,
    QuantileClipper,
    ZScoreClipper,
    signed_expm1,
    signed_log1p,
)

_FILTER_CHANGES_ROWS = (
    "fit_transform returns only the inlier rows by design (sampler semantics), so it cannot "
    "match transform's row count"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, IsolationForestFilter):
        return {
            "check_transformer_general": _FILTER_CHANGES_ROWS,
            "check_transformer_data_not_an_array": _FILTER_CHANGES_ROWS,
        }
    return {}


@parametrize_with_checks(
    [
        IQRClipper(),
        QuantileClipper(),
        ZScoreClipper(),
        IsolationForestFilter(n_estimators=20, random_state=0),
        LogStandardScaler(),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def _column(values):
    return np.asarray(values, dtype=float).reshape(-1, 1)


@pytest.mark.parametrize(
    ("clipper", "fit_values", "expected_lower", "expected_upper"),
    [
        # Q1=1, Q3=3, IQR=2 -> fences 1-1.5*2, 3+1.5*2
        (IQRClipper(), [0, 1, 2, 3, 4], -2.0, 6.0),
        (IQRClipper(factor=3.0), [0, 1, 2, 3, 4], -5.0, 9.0),
        # 5th and 95th percentile of 0..100
        (QuantileClipper(lower=0.05, upper=0.95), list(range(101)), 5.0, 95.0),
        # mean 0, std 1
        (ZScoreClipper(threshold=2.0), [-1, 1, -1, 1], -2.0, 2.0),
    ],
)
def test_clipper_learns_bounds_and_clips_to_them(
    clipper, fit_values, expected_lower, expected_upper
):
    inside = (expected_lower + expected_upper) / 2 + 0.25
    clipper.fit(_column(fit_values))
    out = clipper.transform(_column([-1000, inside, 1000]))
    np.testing.assert_allclose(out.ravel(), [expected_lower, inside, expected_upper])


@pytest.mark.parametrize("clipper", [IQRClipper(), QuantileClipper(), ZScoreClipper(threshold=1.0)])
def test_clipper_keeps_every_row_and_bounds_columns_independently(clipper):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(0, 1, 200), rng.lognormal(5, 2, 200)])
    out = clipper.fit_transform(X)
    assert out.shape == X.shape
    assert np.all(out >= clipper.lower_) and np.all(out <= clipper.upper_)
    assert clipper.upper_[1] > 10 * clipper.upper_[0]


@pytest.mark.parametrize(
    ("estimator", "parameter", "default"),
    [
        (IQRClipper(factor=-1), "factor", "1.5"),
        (QuantileClipper(lower=0.9, upper=0.1), "lower", "0.01"),
        (QuantileClipper(upper=1.5), "upper", "0.99"),
        (ZScoreClipper(threshold="3"), "threshold", "3.0"),
        (IsolationForestFilter(contamination=0.7), "contamination", "'auto'"),
        (IsolationForestFilter(contamination=0), "contamination", "'auto'"),
        (IsolationForestFilter(n_estimators=0), "n_estimators", "100"),
        (LogStandardScaler(with_mean="yes"), "with_mean", "True"),
    ],
)
def test_invalid_hyperparameter_names_estimator_parameter_and_fix(estimator, parameter, default):
    with pytest.raises(InvalidParameterError) as info:
        estimator.fit(_column(range(20)))
    message = str(info.value)
    assert f"The '{parameter}' parameter of {type(estimator).__name__}" in message
    assert f"Fix `{parameter}`" in message and f"its default is {default}" in message


def test_invalid_hyperparameter_is_a_user_error_and_scikit_learns_error():
    """One line and exit 2 from the CLI; what scikit-learn's own checks expect."""
    with pytest.raises(InvalidParameterError) as info:
        IQRClipper(factor=-1).fit(_column(range(20)))
    assert isinstance(info.value, SegmentationError)
    assert isinstance(info.value, SklearnInvalidParameterError)
    assert isinstance(info.value, ValueError)


def test_invalid_hyperparameter_in_a_pipeline_surfaces_unchanged():
    pipe = Pipeline([("outliers", ZScoreClipper(threshold=-2)), ("model", KMeans(2, n_init=1))])
    with pytest.raises(InvalidParameterError, match="'threshold' parameter of ZScoreClipper"):
        pipe.fit(_column(range(20)))


@pytest.mark.parametrize(
    "estimator", [IQRClipper(), QuantileClipper(), ZScoreClipper(), LogStandardScaler()]
)
def test_pandas_output_keeps_column_names_and_index(estimator):
    df = pd.DataFrame({"recency_days": [1.0, 5, 9, 30], "monetary": [10.0, 20, 300, 4000]})
    df.index = [10, 11, 12, 13]
    out = estimator.set_output(transform="pandas").fit_transform(df)
    assert list(out.columns) == list(df.columns)
    assert list(out.index) == list(df.index)


def _bulk_with_outliers(n_bulk=200, n_outliers=6, seed=0):
    rng = np.random.default_rng(seed)
    bulk = rng.normal(0, 1, size=(n_bulk, 2))
    outliers = rng.normal(40, 1, size=(n_outliers, 2))
    return np.vstack([bulk, outliers])


def test_filter_fit_transform_drops_the_flagged_rows():
    X = _bulk_with_outliers()
    flt = IsolationForestFilter(contamination=0.05, random_state=0)
    out = flt.fit_transform(X)
    assert len(out) == flt.inlier_mask_.sum() == len(X) - flt.n_outliers_
    assert flt.n_outliers_ > 0
    assert not flt.inlier_mask_[-6:].any()


@pytest.mark.parametrize("contamination", [0.05, "auto"])
def test_filter_flags_the_rows_an_isolation_forest_predicts_as_outliers(contamination):
    from sklearn.ensemble import IsolationForest

    X = _bulk_with_outliers()
    flt = IsolationForestFilter(contamination=contamination, random_state=3).fit(X)
    forest = IsolationForest(contamination=contamination, random_state=3).fit(X)
    np.testing.assert_array_equal(flt.inlier_mask_, forest.predict(X) == 1)
    assert flt.forest_.offset_ == forest.offset_
    np.testing.assert_array_equal(flt.forest_.predict(X[:20]), forest.predict(X[:20]))


def test_filter_transform_returns_every_row_unchanged():
    X = _bulk_with_outliers()
    flt = IsolationForestFilter(contamination=0.05, random_state=0).fit(X)
    np.testing.assert_array_equal(flt.transform(X), X)


def test_filter_keeps_dataframe_index_of_inliers():
    X = _bulk_with_outliers()
    df = pd.DataFrame(X, columns=["a", "b"], index=np.arange(len(X)) + 1000)
    flt = IsolationForestFilter(contamination=0.05, random_state=0).set_output(transform="pandas")
    out = flt.fit_transform(df)
    assert list(out.index) == list(df.index[flt.inlier_mask_])
    assert flt.transform(df).equals(df)


@pytest.mark.parametrize("as_frame", [False, True])
def test_filter_in_pipeline_fits_on_inliers_and_predicts_every_row(as_frame):
    X = _bulk_with_outliers()
    if as_frame:
        X = pd.DataFrame(X, columns=["a", "b"])
    pipe = Pipeline(
        [
            ("outliers", IsolationForestFilter(contamination=0.05, random_state=0)),
            ("scaler", StandardScaler()),
            ("cluster", KMeans(n_clusters=3, n_init=3, random_state=0)),
        ]
    )
    if as_frame:
        pipe.set_output(transform="pandas")
    pipe.fit(X)
    n_inliers = pipe.named_steps["outliers"].inlier_mask_.sum()
    assert pipe.named_steps["scaler"].n_samples_seen_ == n_inliers < len(X)
    assert len(pipe.predict(X)) == len(X)


@pytest.mark.parametrize(
    "X",
    [
        np.array([[0.0, 1.0], [5.0, 1e6], [100.0, 3.0]]),
        np.array([[-5.0, -0.5], [0.0, 2.0], [30.0, -1.0], [-1e4, 7.0]]),
    ],
)
def test_log_standard_scaler_round_trips(X):
    scaler = LogStandardScaler().fit(X)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-10)


def test_log_standard_scaler_is_log1p_then_standardise_for_non_negative_data():
    X = np.random.default_rng(1).lognormal(3, 1.5, size=(50, 3))
    expected = StandardScaler().fit_transform(np.log1p(X))
    np.testing.assert_allclose(LogStandardScaler().fit_transform(X), expected)


def test_log_standard_scaler_is_finite_at_and_below_minus_one():
    X = _column([-1.0, -50.0, 0.0, 3.0])
    assert np.isfinite(LogStandardScaler().fit_transform(X)).all()


def test_log_standard_scaler_maps_constant_column_to_zero():
    X = np.column_stack([np.full(5, 7.0), np.arange(5.0)])
    out = LogStandardScaler().fit_transform(X)
    np.testing.assert_array_equal(out[:, 0], 0.0)


@pytest.mark.parametrize("x", [0.0, 0.3, 1.0, 250.0, 1e8])
def test_signed_log1p_is_odd_and_inverted_by_signed_expm1(x):
    assert signed_log1p(-x) == -signed_log1p(x)
    assert signed_expm1(signed_log1p(x)) == pytest.approx(x)

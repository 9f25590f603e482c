"""Outlier strategies and a log scaler for the sweep's ``outliers -> scaler -> clusterer`` pipeline.

Customer spend and frequency are heavily right-skewed: a handful of wholesale accounts would
otherwise own a cluster of their own. The clippers winsorise (every customer keeps a row and gets a
segment); ``IsolationForestFilter`` instead leaves outliers out of *fitting* only. scikit-learn's
own scalers (StandardScaler, RobustScaler, MinMaxScaler, PowerTransformer, QuantileTransformer) are
used directly from the configs.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from src.model.params import ConfigParams

__all__ = [
    "IQRClipper",
    "IsolationForestFilter",
    "LogStandardScaler",
    "QuantileClipper",
    "ZScoreClipper",
    "signed_expm1",
    "signed_log1p",
]


def signed_log1p(X: np.ndarray) -> np.ndarray:
    """sign(x) * log1p(|x|): log1p for non-negative values, symmetric and defined for all reals.

    Plain log1p is undefined at -1 and below (refunds can make spend negative).
    """
    X = np.asarray(X, dtype=float)
    return np.sign(X) * np.log1p(np.abs(X))


def signed_expm1(X: np.ndarray) -> np.ndarray:
    """Inverse of :func:`signed_log1p`."""
    X = np.asarray(X, dtype=float)
    return np.sign(X) * np.expm1(np.abs(X))


class _BoundsClipper(ConfigParams, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Learn per-column ``lower_``/``upper_`` at fit and clip to them at transform."""

    def _bounds(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64)
        self.lower_, self.upper_ = self._bounds(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.clip(X, self.lower_, self.upper_)


class IQRClipper(_BoundsClipper):
    """Winsorise each column to [Q1 - factor*IQR, Q3 + factor*IQR] (Tukey fences).

    Parameters
    ----------
    factor : float, default=1.5
        Fence width in interquartile ranges; 1.5 is Tukey's "outlier", 3.0 his "far out".

    Attributes
    ----------
    lower_, upper_ : ndarray of shape (n_features,)
        Clipping bounds learned from the fit data.
    """

    _parameter_constraints = {"factor": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, factor: float = 1.5):
        self.factor = factor

    def _bounds(self, X):
        q1, q3 = np.quantile(X, [0.25, 0.75], axis=0)
        iqr = q3 - q1
        return q1 - self.factor * iqr, q3 + self.factor * iqr


class QuantileClipper(_BoundsClipper):
    """Winsorise each column to its learned ``lower`` and ``upper`` quantiles.

    Parameters
    ----------
    lower, upper : float, default=0.01, 0.99
        Quantile levels in [0, 1] with ``lower < upper``.

    Attributes
    ----------
    lower_, upper_ : ndarray of shape (n_features,)
        Clipping bounds learned from the fit data.
    """

    _parameter_constraints = {
        "lower": [Interval(Real, 0, 1, closed="both")],
        "upper": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, lower: float = 0.01, upper: float = 0.99):
        self.lower = lower
        self.upper = upper

    def _bounds(self, X):
        if self.lower >= self.upper:
            raise self._invalid(
                "lower",
                f"must be smaller than 'upper' ({self.upper!r}). Got {self.lower!r} instead.",
            )
        return np.quantile(X, self.lower, axis=0), np.quantile(X, self.upper, axis=0)


class ZScoreClipper(_BoundsClipper):
    """Winsorise each column to mean ± threshold * std learned at fit.

    Parameters
    ----------
    threshold : float, default=3.0
        Half-width of the kept band in standard deviations.

    Attributes
    ----------
    lower_, upper_ : ndarray of shape (n_features,)
        Clipping bounds learned from the fit data.
    """

    _parameter_constraints = {"threshold": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, threshold: float = 3.0):
        self.threshold = threshold

    def _bounds(self, X):
        mean, std = X.mean(axis=0), X.std(axis=0)
        return mean - self.threshold * std, mean + self.threshold * std


class IsolationForestFilter(ConfigParams, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Leave the rows an IsolationForest flags as outliers out of fitting, but score every row.

    ``fit_transform(X)`` returns only the inlier rows, so inside a ``sklearn.pipeline.Pipeline``
    the following scaler and clusterer are fitted on inliers; ``transform(X)`` returns ``X``
    unchanged, so ``predict`` still assigns every customer (outliers included) a segment. This is
    the "sampler" behaviour of imbalanced-learn pipelines. The container type is kept: a DataFrame
    in gives a DataFrame (with its original index) out.

    Only unsupervised use is supported: a ``y`` passed to ``fit_transform`` is not filtered.
    Label every customer with ``pipeline.fit(X).predict(X)``: ``pipeline.fit_predict(X)`` returns
    labels for the inlier rows only.

    Parameters
    ----------
    contamination : "auto" or float, default="auto"
        Passed to IsolationForest: expected outlier share in (0, 0.5], or "auto".
    n_estimators : int, default=100
        Number of trees.
    random_state : int, RandomState or None, default=None
        Seed of the forest.

    Attributes
    ----------
    forest_ : IsolationForest
        The fitted forest.
    inlier_mask_ : ndarray of bool, shape (n_samples_fit,)
        True for the rows of the fit data that were kept.
    n_outliers_ : int
        Number of fit rows left out.
    """

    def __init__(self, contamination="auto", n_estimators: int = 100, random_state=None):
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.random_state = random_state

    # IsolationForest's own constraints: "auto" or a share in (0, 0.5]; at least one tree.
    _parameter_constraints = {
        name: IsolationForest._parameter_constraints[name]
        for name in ("contamination", "n_estimators", "random_state")
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        Xv = validate_data(self, X)
        # Fitted as "auto" (which skips IsolationForest's own pass over X for the threshold),
        # then scored once: the trees are the same, and the threshold and the mask are what
        # ``IsolationForest(contamination=c).fit(X)`` and its ``predict(X) == 1`` give, for half
        # the scoring (the most expensive part of a sweep trial that uses this filter).
        self.forest_ = IsolationForest(
            contamination="auto",
            n_estimators=self.n_estimators,
            random_state=self.random_state,
        ).fit(Xv)
        scores = self.forest_.score_samples(Xv)
        if self.contamination != "auto":
            self.forest_.set_params(contamination=self.contamination)
            self.forest_.offset_ = np.percentile(scores, 100.0 * self.contamination)
        self.inlier_mask_ = scores - self.forest_.offset_ >= 0
        self.n_outliers_ = int((~self.inlier_mask_).sum())
        return self

    def fit_transform(self, X, y=None, **fit_params):
        self.fit(X, y)
        if hasattr(X, "iloc"):
            return X.iloc[self.inlier_mask_]
        return validate_data(self, X, reset=False)[self.inlier_mask_]

    def transform(self, X):
        check_is_fitted(self)
        Xv = validate_data(self, X, reset=False)
        return X if hasattr(X, "iloc") else Xv


class LogStandardScaler(ConfigParams, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Sign-safe log (``sign(x) * log1p(|x|)``) followed by standardisation.

    The usual choice for skewed spend and frequency: log1p for the non-negative values RFM
    features normally hold, and still defined (and invertible) for refunds below -1.

    Parameters
    ----------
    with_mean, with_std : bool, default=True
        Passed to StandardScaler; constant columns get scale 1.

    Attributes
    ----------
    scaler_ : StandardScaler
        Fitted on the log-transformed data.
    mean_, scale_ : ndarray of shape (n_features,) or None
        Shortcuts to ``scaler_.mean_`` and ``scaler_.scale_`` (in log space).
    """

    _parameter_constraints = {"with_mean": ["boolean"], "with_std": ["boolean"]}

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64)
        self.scaler_ = StandardScaler(with_mean=self.with_mean, with_std=self.with_std).fit(
            signed_log1p(X)
        )
        self.mean_ = self.scaler_.mean_
        self.scale_ = self.scaler_.scale_
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.scaler_.transform(signed_log1p(X))

    def inverse_transform(self, X):
        check_is_fitted(self)
        X = check_array(X, dtype=np.float64)
        return signed_expm1(self.scaler_.inverse_transform(X))

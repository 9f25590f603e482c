"""The customers the sweep's trials fit and are scored on: all of them up to
``sweep.fit_sample_size``, else a fixed seeded sample. The k curve and the stability refits use
the same sample; the chosen configuration is refitted and scored on every customer when the
sweep finalises, so every customer is assigned by the registered model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.random import sample_without_replacement


def sample_rows(n: int, size: int | None, seed: int) -> np.ndarray | None:
    """Sorted row positions of the sample of ``n`` customers, or None when all ``n`` are used
    (``size`` is None or at least ``n``)."""
    if size is None or n <= size:
        return None
    return np.sort(sample_without_replacement(n, size, random_state=seed))


def fit_sample(features: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    """``features`` itself when it has at most ``size`` rows (or ``size`` is None), else ``size``
    rows drawn without replacement with ``seed``, in their original order."""
    rows = sample_rows(len(features), size, seed)
    return features if rows is None else features.iloc[rows]


def sweep_sample(
    features: pd.DataFrame, X_eval: np.ndarray, size: int | None, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample's features and their rows of the evaluation space, aligned."""
    rows = sample_rows(len(features), size, seed)
    if rows is None:
        return features, X_eval
    return features.iloc[rows], X_eval[rows]

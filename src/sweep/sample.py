"""The customers the sweep's trials fit on: all of them up to ``sweep.fit_sample_size``, else a
fixed seeded sample. Trials still label and score every customer; the chosen configuration is
refitted on all customers when the sweep finalises."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.random import sample_without_replacement


def fit_sample(features: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    """``features`` itself when it has at most ``size`` rows (or ``size`` is None), else ``size``
    rows drawn without replacement with ``seed``, in their original order."""
    if size is None or len(features) <= size:
        return features
    rows = np.sort(sample_without_replacement(len(features), size, random_state=seed))
    return features.iloc[rows]

"""The sweep's fit sample: all customers up to the size, else a seeded sample in order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.sweep.sample import fit_sample, sweep_sample


def frame(n: int) -> pd.DataFrame:
    index = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    return pd.DataFrame({"frequency": np.arange(n, dtype=float)}, index=index)


def test_a_table_no_larger_than_the_size_is_used_whole():
    features = frame(500)
    assert fit_sample(features, 500, seed=0) is features


def test_no_size_means_all_customers():
    features = frame(5000)
    assert fit_sample(features, None, seed=0) is features


def test_a_larger_table_gives_that_many_distinct_customers_in_their_order():
    sample = fit_sample(frame(5000), 1200, seed=0)
    assert len(sample) == 1200
    assert sample.index.is_unique
    assert sample["frequency"].is_monotonic_increasing


def test_the_sample_is_fixed_by_the_seed():
    features = frame(5000)
    assert fit_sample(features, 1000, 3).index.equals(fit_sample(features, 1000, 3).index)
    assert not fit_sample(features, 1000, 3).index.equals(fit_sample(features, 1000, 4).index)


def test_the_sweep_sample_keeps_features_and_evaluation_rows_aligned():
    features = frame(5000)
    X_eval = np.arange(5000, dtype=float)[:, None] * 2
    sample, sample_eval = sweep_sample(features, X_eval, 1200, seed=0)
    assert len(sample) == len(sample_eval) == 1200
    rows = features.index.get_indexer(sample.index)
    assert (sample_eval[:, 0] == X_eval[rows, 0]).all()


def test_the_sweep_sample_is_everything_below_its_size():
    features, X_eval = frame(500), np.zeros((500, 1))
    sample, sample_eval = sweep_sample(features, X_eval, 1000, seed=0)
    assert sample is features and sample_eval is X_eval

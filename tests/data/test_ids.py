from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.data import ids


def categorical(values: list[str | None], categories: list[str]) -> pd.Series:
    return pd.Series(pd.Categorical(values, categories=categories))


def test_from_positions_sorts_and_merges_repeated_labels():
    out = ids.from_positions(["b", "a", "b", None], np.array([0, 1, 2, 3, -1]))
    assert out.cat.categories.tolist() == ["a", "b"]
    assert out.tolist()[:3] == ["b", "a", "b"]
    assert out.isna().tolist() == [False, False, False, True, True]


def test_as_ids_keeps_values_and_sorts_categories():
    values = pd.Series(["x2", None, "x10", "x2"], dtype="str")
    out = ids.as_ids(values)
    assert out.cat.categories.tolist() == ["x10", "x2"]
    assert out.astype("str").where(out.notna()).equals(values)


def test_compact_drops_unused_categories_only():
    values = categorical(["c", None, "a", "c"], ["a", "b", "c", "d"])
    out = ids.compact(values)
    assert out.cat.categories.tolist() == ["a", "c"]
    pd.testing.assert_series_equal(out, values.cat.remove_unused_categories())


def test_compact_leaves_other_dtypes_alone():
    values = pd.Series(["a", "b"], dtype="str")
    assert ids.compact(values) is values


@pytest.mark.parametrize("dtype", ["str", "category"])
def test_starts_with_treats_missing_ids_as_no(dtype):
    values = pd.Series(["C1", "2", None, "C3"], dtype=dtype)
    assert ids.starts_with(values, "C").tolist() == [True, False, False, True]


def test_codes_of_a_categorical_are_its_own():
    values = categorical(["b", "a", None], ["b", "a", "z"])
    codes, labels = ids.codes(values)
    assert codes.tolist() == [0, 1, -1]
    assert labels.tolist() == ["b", "a", "z"]


def test_codes_of_text_are_sorted():
    codes, labels = ids.codes(pd.Series(["b", None, "a", "b"], dtype="str"))
    assert labels.tolist() == ["a", "b"]
    assert codes.tolist() == [1, -1, 0, 1]

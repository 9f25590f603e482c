"""Id, number and date conversion."""

from __future__ import annotations

import pandas as pd
import pytest

from src.data.convert import normalise_ids


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([" 17850.0", "17850", "A12"]), ["17850", "17850", "A12"]),
        (pd.Series([17850.0, 12.0]), ["17850", "12"]),
        (pd.Series([5, 6]), ["5", "6"]),
    ],
)
def test_normalise_ids(values, expected):
    assert normalise_ids(values).tolist() == expected


@pytest.mark.parametrize("blank", ["", "  ", None, "nan"])
def test_normalise_ids_blank_is_missing(blank):
    assert normalise_ids(pd.Series(["1", blank])).isna().tolist() == [False, True]

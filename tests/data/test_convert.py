"""Id, number and date conversion expressions."""

from __future__ import annotations

import polars as pl
import pytest

from src.data import convert


def converted_ids(values: list, dtype=None) -> list:
    frame = pl.DataFrame({"x": values}, schema={"x": dtype} if dtype else None)
    return frame.select(convert.id_expr("x", frame.schema["x"])).to_series().to_list()


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        ([" 17850.0", "17850", "A12"], pl.String, ["17850", "17850", "A12"]),
        (
            ["17850.00", "1700", "17.50", "100.", "0.0"],
            pl.String,
            ["17850", "1700", "17.50", "100.", "0"],
        ),
        ([17850.0, 12.0, 12.5], pl.Float64, ["17850", "12", "12.5"]),
        ([5, 6], pl.Int64, ["5", "6"]),
    ],
)
def test_id_rule(values, dtype, expected):
    assert converted_ids(values, dtype) == expected


@pytest.mark.parametrize("blank", ["", "  ", None, "nan", ".0"])
def test_blank_ids_are_missing(blank):
    assert converted_ids(["1", blank], pl.String) == ["1", None]


def test_float_ids_nan_is_missing():
    assert converted_ids([1.0, float("nan")], pl.Float64) == ["1", None]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (["2010-12-01 08:26:00", "2010-12-02 09:00:00"], ("%Y-%m-%d %H:%M:%S",)),
        (["2024-03-01 15:30:00", "2024-01-15"], ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")),
        (["12/1/2010 8:26", "1/13/2011 17:05"], ("%m/%d/%Y %H:%M",)),
    ],
)
def test_date_style_is_chosen_from_a_sample(sample, expected):
    assert convert.date_formats(sample, None) == expected


def test_explicit_date_format_is_used_alone():
    assert convert.date_formats(["2010-12-01"], "%Y%m%d") == ("%Y%m%d",)


def test_numbers_from_text_flag_what_does_not_parse():
    frame = pl.DataFrame({"q": ["1.5", " 2 ", "six", None, "NaN"]})
    c = convert.to_float("quantity", "q", pl.String)
    out = frame.select(c.expr.alias("v"), c.bad.alias("bad"))
    assert out["v"].to_list() == [1.5, 2.0, None, None, None]
    assert out["bad"].to_list() == [False, False, True, False, False]

"""Numbers, labels and tables as people read them."""

from __future__ import annotations

import pandas as pd
import pytest

from src.report.format import MISSING, e, fmt, key_values, label, table


@pytest.mark.parametrize(
    ("value", "kwargs", "text"),
    [
        (12345, {}, "12,345"),
        (0.1234, {"share": True}, "12.3%"),
        (0.41234, {"precise": True}, "0.412"),
        (2054.27, {}, "2,054"),
        (123.45, {}, "123.5"),
        (float("nan"), {}, MISSING),
        (None, {}, MISSING),
        (True, {}, "yes"),
        (pd.Timestamp("2011-12-10"), {}, "2011-12-10"),
        (pd.Timestamp("2011-12-10 08:26"), {}, "2011-12-10 08:26"),
    ],
)
def test_fmt(value, kwargs, text):
    assert fmt(value, **kwargs) == text


def test_labels_use_the_feature_names_people_read():
    assert label("recency_days") == "Recency (days since last order)"
    assert label("min_cluster_share") == "Min cluster share"


def test_escape():
    assert e('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"


def test_tables_keep_ids_and_years_without_separators():
    html = table(pd.DataFrame({"year": [2011], "trial": [1234], "orders": [17132]}))
    assert ">2011<" in html and ">1234<" in html and ">17,132<" in html


def test_a_column_reads_with_one_scale_of_decimals():
    html = table(pd.DataFrame({"monetary": [2500.0, 90.5, 12.25]}))
    # The median (90.5) sets two decimals for the whole column.
    assert ">2,500.00<" in html and ">90.50<" in html and ">12.25<" in html


def test_shaded_tables_leave_totals_plain():
    frame = pd.DataFrame({"a": [1, 2], "Total": [1, 2]}, index=pd.Index(["x", "Total"]))
    html = table(frame, shade=True)
    total_row = html[html.index('class="total"') :].split("</tr>")[0]
    assert "background" not in total_row


def test_key_values_flatten_nested_mappings():
    html = key_values({"model": {"k": 4}, "share": 0.5})
    assert "Model › Segments (k)" in html and "50.0%" in html

"""The value figures: data in, a Figure out, bad input refused with a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from src.errors import SegmentationError
from src.viz.style import to_png
from src.viz.value import calibration_figure, p_alive_by_segment, value_by_segment


def _segments() -> pd.DataFrame:
    return pd.DataFrame(
        {"clv": [900.0, 100.0], "at_risk_clv": [90.0, 60.0]},
        index=pd.Index([0, 1], name="segment_id"),
    )


def test_p_alive_by_segment_draws_one_box_per_segment_with_names():
    fig = p_alive_by_segment([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], {0: "Champions", 1: "Lost"})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Champions", "Lost"]
    assert any("mean 0.85" in t.get_text() for t in ax.texts)
    to_png(fig)


def test_p_alive_needs_one_value_per_label():
    with pytest.raises(SegmentationError, match="one of each per customer"):
        p_alive_by_segment([0.5], [0, 1])


def test_value_by_segment_shades_the_at_risk_part():
    fig = value_by_segment(_segments(), {0: "Champions", 1: "Lost"})
    ax = fig.axes[0]
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == [40.0, 60.0, 90.0, 810.0]  # safe parts and at-risk parts of both bars
    assert any("(90%)" in t.get_text() for t in ax.texts)
    to_png(fig)


def test_value_by_segment_names_the_missing_column():
    with pytest.raises(SegmentationError, match="at_risk_clv"):
        value_by_segment(_segments().drop(columns="at_risk_clv"))


def test_calibration_figure_marks_the_open_last_bin_and_counts():
    table = pd.DataFrame(
        {
            "customers": [50, 20, 5],
            "actual": [0.2, 1.0, 3.0],
            "predicted": [0.3, 0.9, 2.5],
            "baseline": [1.0, 1.2, 2.0],
        },
        index=pd.Index([0, 1, 2], name="train_frequency"),
    )
    fig = calibration_figure(table, cutoff="2011-09-10", days=91)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[-1].startswith("2+") and "(n=5)" in labels[-1]
    assert len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[1].get_ydata(), table["predicted"])
    assert "2011-09-10" in ax.get_title(loc="left")


def test_calibration_figure_refuses_a_table_without_predictions():
    with pytest.raises(SegmentationError, match="predicted"):
        calibration_figure(pd.DataFrame({"customers": [1], "actual": [0.0]}))

"""One look for every figure: segment colours and labels, legends, sampling, log ticks, PNG export.

Every figure function in ``src.viz`` takes data and returns a ``matplotlib.figure.Figure``;
nothing is shown, saved or logged there. Figures are created through pyplot so ``to_png`` (which
closes them) is the one place that releases them. A segment keeps the same colour in every figure
(``segment_colours``), legends use segment names when given, and scatters draw a seeded random
sample so a million customers still render in a second.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter

from src.columns import (
    DISCOUNT_RATE,
    FEATURE_LABELS,
    FREQUENCY,
    LENGTH,
    LRFMC_FEATURES,
    MONETARY,
    RECENCY,
)
from src.errors import SegmentationError

DPI = 110

# Short names for radar spokes; recency is inverted there, so its label says which way is outer.
RADAR_LABELS: dict[str, str] = {
    LENGTH: "length (tenure)",
    RECENCY: "recency (recent)",
    FREQUENCY: "frequency",
    MONETARY: "monetary",
    DISCOUNT_RATE: "discount rate",
}
# Features where a smaller value is the better customer, so radar axes flip them.
INVERTED_FEATURES = frozenset({RECENCY})

# Ids 0-9 take tab10; ids 10-19 take the light shades of tab20, so k up to 20 stays distinct and
# an id's colour never depends on which other segments are in the figure.
_PALETTE: tuple[tuple[float, float, float], ...] = tuple(
    tuple(float(c) for c in rgb)
    for rgb in (*matplotlib.colormaps["tab10"].colors, *matplotlib.colormaps["tab20"].colors[1::2])
)


def segment_colours(segment_ids: Iterable) -> dict[int, tuple]:
    """Colour per segment id, fixed by the id alone so a segment looks the same in every figure."""
    ids = sorted({int(s) for s in np.asarray(list(segment_ids)).ravel()})
    return {s: _PALETTE[s % len(_PALETTE)] for s in ids}


def segment_label(segment_id: int, names: Mapping | None = None) -> str:
    """Display name of a segment: its given name, else "Segment <id>"."""
    sid = int(segment_id)
    if names:
        for key in (sid, str(sid)):
            if key in names:
                return str(names[key])
    return f"Segment {sid}"


def feature_label(feature: str) -> str:
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


def as_labels(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise SegmentationError(
            f"Segment labels must be one-dimensional, got shape {arr.shape}. Pass one integer "
            "segment id per customer."
        )
    if arr.dtype.kind not in "iu":
        try:
            as_int = arr.astype(np.int64)
        except (TypeError, ValueError) as exc:
            raise SegmentationError(
                f"Segment labels must be integer segment ids, got values of type {arr.dtype}. "
                "Pass the segment_id column (not segment names); names go in `names`."
            ) from exc
        if not np.array_equal(as_int, arr.astype(float)):
            raise SegmentationError(
                "Segment labels must be whole numbers (segment ids); got fractional values. "
                "Pass the segment_id column."
            )
        arr = as_int
    return arr.astype(np.int64, copy=False)


def sample_indices(n: int, max_points: int, random_state: int | None) -> np.ndarray:
    """Seeded sample without replacement, in random order so no segment is always drawn on top."""
    rng = np.random.default_rng(random_state)
    size = min(n, max(int(max_points), 1))
    return rng.choice(n, size=size, replace=False)


def new_figure(figsize: tuple[float, float]) -> Figure:
    return plt.figure(figsize=figsize, dpi=DPI, layout="constrained")


def legend_handles(ids: Sequence[int], names: Mapping | None, marker: str = "o") -> list:
    colours = segment_colours(ids)
    return [
        Line2D(
            [],
            [],
            marker=marker,
            linestyle="",
            markersize=8,
            color=colours[int(s)],
            label=segment_label(s, names),
        )
        for s in ids
    ]


def segment_legend(fig: Figure, handles: list, title: str = "Segment") -> None:
    ncols = 1 if len(handles) <= 14 else 2
    fig.legend(
        handles=handles,
        loc="outside right upper",
        title=title,
        frameon=False,
        fontsize=9,
        ncols=ncols,
    )


def subtitle(ax, text: str, width: int = 90) -> None:
    ax.set_title("\n".join(textwrap.wrap(text, width)), fontsize=9, color="0.35", loc="left")


def feature_columns(frame: pd.DataFrame, features: Sequence[str] | None, what: str) -> list[str]:
    if features is not None:
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise SegmentationError(
                f"The {what} has no column(s) {missing}; it has {list(frame.columns)}. Name "
                "columns that exist, or add the missing features to the table."
            )
        return list(features)
    found = [f for f in LRFMC_FEATURES if f in frame.columns]
    if not found:
        raise SegmentationError(
            f"The {what} has none of the feature columns {list(LRFMC_FEATURES)}; it has "
            f"{list(frame.columns)}. Build it from the customer feature table (one mean per "
            "segment and feature) or pass `features`."
        )
    return found


def signed_log10(values: np.ndarray) -> np.ndarray:
    """log10(1 + |x|) keeping the sign: spend can be zero or net negative after returns."""
    values = np.asarray(values, dtype=float)
    return np.sign(values) * np.log10(1.0 + np.abs(values))


def compact(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:,.0f}" if magnitude >= 1 or value == 0 else f"{value:g}"


def log_ticks(axis, raw_min: float, raw_max: float) -> None:
    """Ticks at round raw values on an axis that plots `signed_log10` of the data."""
    top = max(abs(raw_min), abs(raw_max), 1.0)
    decades = math.ceil(math.log10(top))
    steps = (1, 2, 5) if decades <= 3 else (1,)
    positive = [0.0] + [m * 10.0**d for d in range(decades + 1) for m in steps]
    nice = sorted(set(positive + [-v for v in positive]))
    keep = [v for v in nice if raw_min - 1e-9 <= v <= raw_max + 1e-9]
    if len(keep) < 2:
        keep = [raw_min, raw_max]
    axis.set_major_locator(FixedLocator(signed_log10(np.array(keep))))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: compact(_inverse_signed_log10(v))))


def _inverse_signed_log10(value: float) -> float:
    return float(np.sign(value) * (10.0 ** abs(value) - 1.0))


def short_number(value: float) -> str:
    if not np.isfinite(value):
        return ""
    if abs(value) >= 1e4:
        return compact(round(value, -2))
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"


def sample_note(shown: int, total: int) -> str:
    if shown < total:
        return f"{shown:,} of {total:,} customers shown (random sample)"
    return f"All {total:,} customers shown"


def to_png(fig: Figure) -> bytes:
    """PNG bytes for an MLflow artifact or an HTML data URI; closes the figure to free memory."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    finally:
        plt.close(fig)
    return buffer.getvalue()

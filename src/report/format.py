"""Text and tables for people: escaping, labels, numbers, HTML tables and key-value lists.

All text coming from data or configuration goes through :func:`e` (HTML escaping).
"""

from __future__ import annotations

import base64
import html
import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from src.columns import DESCRIPTION, FEATURE_LABELS, SEGMENT_ID, SEGMENT_NAME, STOCK_CODE
from src.config import flatten

MISSING = "–"
TOTALS = ("Total", "All")
ID_COLUMNS = frozenset({"id", "trial", "number", "trial_number", "rank", "year", "cohort", "k"})

LABELS = {
    **FEATURE_LABELS,
    SEGMENT_ID: "ID",
    SEGMENT_NAME: "Segment",
    "n_customers": "Customers",
    "share": "Share",
    "davies_bouldin": "Davies–Bouldin",
    "calinski_harabasz": "Calinski–Harabasz",
    "rows_in": "Rows in",
    "rows_out": "Rows out",
    "rows_removed": "Rows removed",
    "share_removed": "Share removed",
    "snapshot_date": "Snapshot date",
    "n_clusters": "Number of segments",
    "k": "Segments (k)",
    "ground_truth_ari": "Ground-truth ARI",
    "stability_ari": "Stability (ARI)",
    "stability_ari_std": "Stability spread (std)",
    "run_id": "Run ID",
    "verdict": "Verdict of the k rule",
    "avg_order_value": "Average order value",
    "customers_matched": "Customers matched",
    STOCK_CODE: "Stock code",
    DESCRIPTION: "Product",
}


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def label(name: object) -> str:
    if isinstance(name, tuple):
        return " / ".join(label(part) for part in name)
    text = str(name)
    if text in LABELS:
        return LABELS[text]
    text = text.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def share_like(name: object, values: Iterable[object] = ()) -> bool:
    text = str(name).lower()
    if any(
        word in text for word in ("share", "pct", "percent", "retention", "precision", "coverage")
    ):
        return True
    if "rate" in text:
        found = [v for v in values if isinstance(v, numbers.Real) and not is_missing(v)]
        return bool(found) and all(0 <= float(v) <= 1 for v in found)
    return False


def _id_like(name: object) -> bool:
    """Codes and years read wrong with thousands separators ("2,011")."""
    text = str(name).lower()
    return text in ID_COLUMNS or text.endswith(("_id", "year", "_code"))


def _number(value: float, precise: bool = False, scale: float | None = None) -> str:
    """Decimals follow ``scale`` (a column's typical size) so one column reads consistently."""
    magnitude = abs(value if scale is None else scale)
    if precise and magnitude < 10:
        return f"{value:,.3f}"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def fmt(
    value: object,
    share: bool = False,
    integral: bool = False,
    precise: bool = False,
    scale: float | None = None,
) -> str:
    """Human text for one value: thousands separators, 1-3 decimals, % for shares, ISO dates."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M")
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if share:
            return f"{value:.1%}"
        if integral and value.is_integer():
            return f"{value:,.0f}"
        return _number(value, precise, scale)
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def column_formatter(series: pd.Series, precise: bool):
    if _id_like(series.name):
        return lambda v: MISSING if is_missing(v) else str(v)
    if str(series.name).lower() == "month" and pd.api.types.is_datetime64_any_dtype(series):
        return lambda v: MISSING if is_missing(v) else v.strftime("%Y-%m")
    values = series.tolist()
    share = share_like(series.name, values)
    finite = [float(v) for v in values if isinstance(v, numbers.Real) and not is_missing(v)]
    integral = bool(finite) and all(v.is_integer() for v in finite)
    scale = float(np.median(np.abs(finite))) if finite else None
    return lambda v: fmt(v, share=share, integral=integral, precise=precise, scale=scale)


def note(text: str) -> str:
    return f'<p class="note">{e(text)}</p>'


def figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{e(caption)}">'
        f"<figcaption>{e(caption)}</figcaption></figure>"
    )


def _shade_max(frame: pd.DataFrame) -> float:
    inner = frame.drop(index=list(TOTALS), columns=list(TOTALS), errors="ignore")
    body = inner.select_dtypes("number").to_numpy(dtype=float, na_value=np.nan)
    return float(np.nanmax(body)) if body.size and np.isfinite(body).any() else 0.0


def table(
    frame: pd.DataFrame | None,
    *,
    precise: bool = False,
    highlight: int | None = None,
    shade: bool = False,
    empty: str = "No rows.",
) -> str:
    """A DataFrame as an HTML table; a meaningful index becomes the first column.

    ``highlight`` marks one row (by position) as the chosen one; ``shade`` colours numeric
    cells by size (a heat table such as a crosstab, whose Total row and column stay plain).
    """
    if frame is None or frame.empty:
        return note(empty)
    show_index = not isinstance(frame.index, pd.RangeIndex)
    data = frame.reset_index() if show_index else frame
    if show_index and isinstance(frame.columns, pd.MultiIndex):
        data.columns = [label(c) for c in data.columns]
    formatters = [column_formatter(data.iloc[:, i], precise) for i in range(data.shape[1])]
    numeric = [pd.api.types.is_numeric_dtype(data.iloc[:, i]) for i in range(data.shape[1])]
    shade_max = _shade_max(frame) if shade else 0.0
    head = "".join(
        f'<th class="{"num" if numeric[i] else ""}">{e(label(c))}</th>'
        for i, c in enumerate(data.columns)
    )
    rows = []
    for r, row in enumerate(data.itertuples(index=False, name=None)):
        total_row = show_index and str(row[0]) in TOTALS
        cells = []
        for i, value in enumerate(row):
            text = e(formatters[i](value))
            style = ""
            shaded = shade_max > 0 and numeric[i] and not (show_index and i == 0)
            plain = is_missing(value) or str(data.columns[i]) in TOTALS or total_row
            if shaded and not plain:
                alpha = 0.08 + 0.55 * float(value) / shade_max
                style = f' style="background: rgba(76, 114, 176, {alpha:.2f})"'
            if r == highlight and i == 0:
                text += ' <span class="badge">chosen</span>'
            cells.append(f'<td class="{"num" if numeric[i] else ""}"{style}>{text}</td>')
        cls = ' class="total"' if total_row else (' class="chosen"' if r == highlight else "")
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def key_values(
    mapping: Mapping | None, *, precise: bool = False, help_text: Mapping | None = None
) -> str:
    """A two- or three-column table (name, value, optional meaning) for a flat or nested dict."""
    if not mapping:
        return note("Nothing recorded.")
    rows = []
    for key, value in flatten(mapping).items():
        leaf = key.rsplit(".", 1)[-1]
        text = fmt(value, share=share_like(leaf, [value]), precise=precise)
        name = " › ".join(label(part) for part in key.split("."))
        meaning = ""
        if help_text is not None:
            meaning = f'<td class="help">{e(help_text.get(leaf, ""))}</td>'
        rows.append(f'<tr><th scope="row">{e(name)}</th><td>{e(text)}</td>{meaning}</tr>')
    return f'<div class="table-wrap"><table class="kv"><tbody>{"".join(rows)}</tbody></table></div>'

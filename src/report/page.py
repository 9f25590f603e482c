"""One self-contained HTML report per sweep: what was segmented, which model won and why, and
what each segment looks like and should get.

The page has no external resources: CSS is inline, figures are PNG data URIs and a
Content-Security-Policy forbids any network fetch, so the file can be mailed or attached to an
MLflow run and opened anywhere. All text coming from data or configuration is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from src.columns import (
    DESCRIPTION,
    DISCOUNT_RATE,
    FREQUENCY,
    LENGTH,
    LRFMC_FEATURES,
    MONETARY,
    RECENCY,
    SEGMENT_ID,
    SEGMENT_NAME,
    STOCK_CODE,
)

SECTIONS = {
    "summary": "At a glance",
    "data": "Dataset and cleaning",
    "choice": "Chosen configuration and why",
    "profiles": "Segment profiles",
    "sizes": "Segment sizes",
    "cards": "Segment cards",
    "rfm": "RFM scores by segment",
    "products": "Product picks",
}
EXTRA_SECTIONS = {"figures": "More figures", "eda": "Exploratory data analysis"}

CHOICE_FIGURES = ("elbow", "silhouette_k")
PROFILE_FIGURES = ("radar", "radar_grid")
SIZE_FIGURES = ("sizes",)

FIGURE_CAPTIONS = {
    "radar": "Profile of every segment across the model features.",
    "radar_grid": "One profile chart per segment.",
    "sizes": "Customers per segment.",
    "elbow": "Within-segment spread (inertia) by number of segments: the bend marks diminishing returns.",
    "silhouette_k": "Silhouette score by number of segments (higher means better separated).",
    "pca": "Customers projected onto the first two principal components, coloured by segment.",
    "silhouette": "Silhouette of each customer, grouped by segment.",
    "monthly_revenue": "Revenue per month (bars) and number of orders (line).",
    "top_products": "Best-selling products by units sold and by revenue.",
    "revenue_by_country": "Share of revenue per country.",
    "order_values": "Distribution of order values.",
    "cohorts": "Share of each monthly cohort that bought again in later months.",
    "migration": "How customers moved between segments from one snapshot to the next.",
}

LABELS = {
    "top_products_quantity": "Top products by units sold",
    "top_products_revenue": "Top products by revenue",
    "order_values": "Order values",
    SEGMENT_ID: "ID",
    SEGMENT_NAME: "Segment",
    "n_customers": "Customers",
    "share": "Share",
    LENGTH: "Length (days as customer)",
    RECENCY: "Recency (days since last order)",
    FREQUENCY: "Frequency (orders)",
    MONETARY: "Monetary (total spend)",
    DISCOUNT_RATE: "Discount rate",
    "davies_bouldin": "Davies–Bouldin",
    "calinski_harabasz": "Calinski–Harabasz",
    "rows_in": "Rows in",
    "rows_out": "Rows out",
    "rows_removed": "Rows removed",
    "share_removed": "Share removed",
    "snapshot_date": "Snapshot date",
    "n_clusters": "Number of segments",
    "k": "Number of segments (k)",
    "run_id": "Run ID",
    STOCK_CODE: "Stock code",
    DESCRIPTION: "Product",
}

METRIC_HELP = {
    "silhouette": "How much closer customers are to their own segment than to the nearest other "
    "one; from −1 to 1, higher is better.",
    "davies_bouldin": "Average likeness of each segment to its most similar neighbour; 0 and up, "
    "lower is better.",
    "calinski_harabasz": "Spread between segments relative to spread within them; higher is better.",
    "stability": "How consistently the same segments come back when the model is refit on "
    "resampled customers; 1 means identical.",
    "inertia": "Within-segment sum of squared distances; lower is tighter but it always falls as "
    "segments are added.",
    "min_cluster_share": "Share of customers in the smallest segment.",
    "smallest_cluster_share": "Share of customers in the smallest segment.",
    "noise_share": "Share of customers the model left outside every segment.",
    "n_clusters": "Number of segments found.",
}

TRIAL_KEYS = ("trial", "number", "trial_number", "trial_id")
CHOSEN_FLAGS = ("chosen", "is_chosen", "winner", "is_winner")
MISSING = "–"
TOTALS = ("Total", "All")
ID_COLUMNS = frozenset({"id", "trial", "number", "trial_number", "rank", "year", "cohort", "k"})
# Actions are "; "-joined upstream; split only before a capital so "Avoid discounts; they buy
# anyway" stays one action.
ACTION_SEPARATOR = re.compile(r";\s+(?=[A-Z])")


@dataclass
class ReportContext:
    """Everything the report shows, already computed; rendering does no analysis of its own.

    ``segments``: one row per segment with ``segment_id`` (column or index), ``segment_name``,
    optional ``description``/``summary`` text, ``n_customers``, ``share`` and the feature means
    (schema feature columns; extra ``median_*``/``*_z``/``*_level`` columns are ignored).
    ``actions`` and ``products`` may hold several rows per segment and are linked to segments
    by whichever of ``segment_id``/``segment_name``/``segment`` (column or index) matches; an
    ``actions`` cell may be a list or a "; "-joined string. ``products=None`` shows
    ``products_note`` (or a default note) instead of product picks.
    ``top_trials`` is best-first; the highlighted row is the one whose ``trial``/``number``
    equals ``chosen_trial``, else the one flagged in a boolean ``chosen`` column, else the first.
    ``figures`` maps a name to PNG bytes (a matplotlib figure is converted too); radar,
    radar_grid, sizes, elbow and silhouette_k go to their own sections, the rest to
    "More figures". ``eda`` maps names to tables (DataFrame/Series), figures or note strings,
    or is ``{"figures": {...}, "tables": {...}}`` whose entries are paired by name.
    ``min_cluster_share`` (a fraction) is the smallest-segment rule of the sweep objective;
    ``objective`` replaces the default sentence explaining how candidates were compared;
    ``notes`` are extra sentences shown under the summary tiles.
    """

    title: str
    experiment: str
    run_id: str | None
    created: str
    dataset: dict
    cleaning: pd.DataFrame | None
    chosen: dict
    metrics: dict
    top_trials: pd.DataFrame
    segments: pd.DataFrame
    actions: pd.DataFrame
    rfm_crosstab: pd.DataFrame | None
    products: pd.DataFrame | None
    products_note: str | None
    figures: dict[str, bytes]
    eda: dict | None = None
    chosen_trial: int | str | None = None
    min_cluster_share: float | None = None
    objective: str | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- formatting


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _label(name: object) -> str:
    if isinstance(name, tuple):
        return " / ".join(_label(part) for part in name)
    text = str(name)
    if text in LABELS:
        return LABELS[text]
    text = text.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _share_like(name: object, values: Iterable[object] = ()) -> bool:
    text = str(name).lower()
    if any(word in text for word in ("share", "pct", "percent", "retention")):
        return True
    if "rate" in text:
        numbers_ = [v for v in values if isinstance(v, numbers.Real) and not _is_missing(v)]
        return bool(numbers_) and all(0 <= float(v) <= 1 for v in numbers_)
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


def _fmt(
    value: object,
    share: bool = False,
    integral: bool = False,
    precise: bool = False,
    scale: float | None = None,
) -> str:
    """Human text for one value: thousands separators, 1-3 decimals, % for shares, ISO dates."""
    if _is_missing(value):
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
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _column_formatter(series: pd.Series, precise: bool):
    if _id_like(series.name):
        return lambda v: MISSING if _is_missing(v) else str(v)
    if str(series.name).lower() == "month" and pd.api.types.is_datetime64_any_dtype(series):
        return lambda v: MISSING if _is_missing(v) else v.strftime("%Y-%m")
    values = series.tolist()
    share = _share_like(series.name, values)
    finite = [float(v) for v in values if isinstance(v, numbers.Real) and not _is_missing(v)]
    integral = bool(finite) and all(v.is_integer() for v in finite)
    scale = float(np.median(np.abs(finite))) if finite else None
    return lambda v: _fmt(v, share=share, integral=integral, precise=precise, scale=scale)


def figure_to_png(fig: Any, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure, for ``ReportContext.figures``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _png(image: Any) -> bytes:
    return image if isinstance(image, bytes | bytearray) else figure_to_png(image)


# --------------------------------------------------------------------------- HTML pieces


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _figure(name: str, image: Any) -> str:
    data = base64.b64encode(_png(image)).decode("ascii")
    caption = FIGURE_CAPTIONS.get(name, _label(name))
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _table(
    frame: pd.DataFrame | None,
    *,
    precise: bool = False,
    highlight: int | None = None,
    shade: bool = False,
    empty: str = "No rows.",
) -> str:
    """A DataFrame as an HTML table; a meaningful index becomes the first column."""
    if frame is None or frame.empty:
        return _note(empty)
    show_index = not isinstance(frame.index, pd.RangeIndex)
    data = frame.reset_index() if show_index else frame
    if show_index and isinstance(frame.columns, pd.MultiIndex):
        data.columns = [_label(c) for c in data.columns]
    formatters = [_column_formatter(data.iloc[:, i], precise) for i in range(data.shape[1])]
    numeric = [pd.api.types.is_numeric_dtype(data.iloc[:, i]) for i in range(data.shape[1])]
    shade_max = 0.0
    if shade:
        inner = frame.drop(index=TOTALS, columns=TOTALS, errors="ignore")
        body = inner.select_dtypes("number").to_numpy(dtype=float, na_value=np.nan)
        shade_max = float(np.nanmax(body)) if body.size and np.isfinite(body).any() else 0.0

    head = "".join(
        f'<th class="{"num" if numeric[i] else ""}">{_e(_label(c))}</th>'
        for i, c in enumerate(data.columns)
    )
    rows = []
    for r, row in enumerate(data.itertuples(index=False, name=None)):
        cells = []
        for i, value in enumerate(row):
            text = _e(formatters[i](value))
            style = ""
            if shade and shade_max > 0 and numeric[i] and not (show_index and i == 0):
                is_total = str(data.columns[i]) in TOTALS or (show_index and str(row[0]) in TOTALS)
                if not _is_missing(value) and not is_total:
                    alpha = 0.08 + 0.55 * float(value) / shade_max
                    style = f' style="background: rgba(76, 114, 176, {alpha:.2f})"'
            if r == highlight and i == 0:
                text += ' <span class="badge">chosen</span>'
            cells.append(f'<td class="{"num" if numeric[i] else ""}"{style}>{text}</td>')
        cls = ' class="chosen"' if r == highlight else ""
        if show_index and str(row[0]) in TOTALS:
            cls = ' class="total"'

        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _flatten(mapping: Mapping, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _key_values(
    mapping: Mapping | None, *, precise: bool = False, help_text: Mapping | None = None
) -> str:
    """A two- or three-column table (name, value, optional meaning) for a flat or nested dict."""
    if not mapping:
        return _note("Nothing recorded.")
    rows = []
    for key, value in _flatten(mapping).items():
        leaf = key.rsplit(".", 1)[-1]
        share = _share_like(leaf, [value])
        label = " › ".join(_label(part) for part in key.split("."))
        text = _fmt(value, share=share, precise=precise)
        meaning = ""
        if help_text is not None:
            meaning = f'<td class="help">{_e(help_text.get(leaf, ""))}</td>'
        rows.append(f'<tr><th scope="row">{_e(label)}</th><td>{_e(text)}</td>{meaning}</tr>')
    return f'<div class="table-wrap"><table class="kv"><tbody>{"".join(rows)}</tbody></table></div>'


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{_e(title)}</h2>{body}</section>'


# --------------------------------------------------------------------------- sections


def _summary(ctx: ReportContext) -> str:
    segments = _segments(ctx)
    tiles: list[tuple[str, str]] = []
    if "n_customers" in segments:
        tiles.append(("Customers segmented", _fmt(int(segments["n_customers"].sum()))))
    tiles.append(("Segments", _fmt(len(segments))))
    model = ctx.chosen.get("model") if isinstance(ctx.chosen, Mapping) else None
    if isinstance(model, Mapping):
        model = model.get("name", model.get("_name", None))
    if model is not None:
        tiles.append(("Model", _fmt(model)))
    if "silhouette" in ctx.metrics:
        tiles.append(("Silhouette", _fmt(ctx.metrics["silhouette"], precise=True)))
    if "share" in segments and SEGMENT_NAME in segments and len(segments):
        largest = segments.loc[segments["share"].idxmax()]
        tiles.append((f"Largest: {largest[SEGMENT_NAME]}", _fmt(largest["share"], share=True)))
    body = "".join(
        f'<div class="tile"><div class="tile-value">{_e(value)}</div>'
        f'<div class="tile-label">{_e(label)}</div></div>'
        for label, value in tiles
    )
    notes = "".join(_note(n) for n in ctx.notes)
    return f'<div class="tiles">{body}</div>{notes}'


def _data_section(ctx: ReportContext) -> str:
    dataset = _key_values(ctx.dataset)
    cleaning = ctx.cleaning
    if cleaning is None or cleaning.empty:
        return dataset + "<h3>Cleaning</h3>" + _note("No cleaning steps were recorded.")
    table = cleaning.copy()
    intro = ""
    if {"rows_in", "rows_removed"} <= set(table.columns):
        rows_in = table["rows_in"].replace(0, np.nan)
        table["share_removed"] = table["rows_removed"] / rows_in
    if {"rows_in", "rows_out"} <= set(table.columns):
        first, last = table["rows_in"].iloc[0], table["rows_out"].iloc[-1]
        kept = f" ({_fmt(last / first, share=True)})" if first else ""
        intro = (
            f"<p>Cleaning kept {_e(_fmt(last))} of {_e(_fmt(first))} rows{_e(kept)}. "
            "Each rule below removes rows that would distort customer behaviour; rules run in "
            "the order shown.</p>"
        )
    return dataset + "<h3>Cleaning</h3>" + intro + _table(table)


def _winner_row(ctx: ReportContext) -> tuple[pd.DataFrame, int | None]:
    trials = ctx.top_trials
    if trials is None or trials.empty:
        return trials, None
    if ctx.chosen_trial is not None:
        for key in TRIAL_KEYS:
            if key in trials.columns:
                hits = np.flatnonzero(trials[key].astype(str) == str(ctx.chosen_trial))
                if len(hits):
                    return trials.reset_index(drop=True), int(hits[0])
    for flag in CHOSEN_FLAGS:
        if flag in trials.columns and trials[flag].dtype == bool and trials[flag].any():
            row = int(np.flatnonzero(trials[flag].to_numpy())[0])
            return trials.drop(columns=flag).reset_index(drop=True), row
    return trials.reset_index(drop=True), 0


def _objective_text(ctx: ReportContext) -> str:
    if ctx.objective:
        return ctx.objective
    text = (
        "Every candidate configuration (outlier handling, scaling, model and number of segments) "
        "was scored by its silhouette measured in one fixed space: the features after a log1p "
        "transform and standardisation, whatever the candidate's own preprocessing. Scores are "
        "therefore comparable across candidates and a scaler cannot win by reshaping the space "
        "it is judged in."
    )
    if ctx.min_cluster_share is not None:
        text += (
            f" Candidates whose smallest segment held less than {ctx.min_cluster_share:.0%} of "
            "customers were rejected, so a winner cannot come from splitting off a handful of "
            "extreme customers."
        )
    return text


def _choice_section(ctx: ReportContext) -> str:
    trials, winner = _winner_row(ctx)
    parts = [
        '<div class="two-col"><div><h3>Configuration</h3>',
        _key_values(ctx.chosen),
        "</div><div><h3>Quality of the chosen segmentation</h3>",
        _key_values(ctx.metrics, precise=True, help_text=METRIC_HELP),
        "</div></div>",
        "<h3>How candidates were compared</h3>",
        f"<p>{_e(_objective_text(ctx))}</p>",
        "<h3>Best candidates</h3>",
        _table(trials, precise=True, highlight=winner, empty="No trial table was recorded."),
    ]
    pair = [_figure(n, ctx.figures[n]) for n in CHOICE_FIGURES if n in ctx.figures]
    if pair:
        parts.append(f'<div class="figure-row">{"".join(pair)}</div>')
    return "".join(parts)


def _figures_or_note(ctx: ReportContext, names: tuple[str, ...], note: str) -> str:
    present = [_figure(n, ctx.figures[n]) for n in names if n in ctx.figures]
    return "".join(present) if present else _note(note)


LINK_COLUMNS = (SEGMENT_ID, SEGMENT_NAME, "segment")
ACTION_COLUMNS = ("actions", "action", "recommended_actions")
PRODUCT_DETAILS = ("customer_share", "lift")
NOT_FEATURES = ("median_", "_z", "_level", "_rank")


def _as_columns(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Move a segment index (``segment_id`` etc.) into a column so every frame links alike."""
    if frame is None:
        return None
    if frame.index.name in LINK_COLUMNS and frame.index.name not in frame.columns:
        return frame.reset_index()
    return frame


def _link(segments: pd.DataFrame, other: pd.DataFrame | None) -> tuple[str, str] | None:
    """(segments column, other column) whose values match best: ids, names or a "segment" column."""
    if other is None or other.empty:
        return None
    best, best_hits = None, 0
    for own in (SEGMENT_ID, SEGMENT_NAME):
        if own not in segments.columns:
            continue
        wanted = set(segments[own].astype(str))
        for theirs in LINK_COLUMNS:
            if theirs in other.columns:
                hits = int(other[theirs].astype(str).isin(wanted).sum())
                if hits > best_hits or (hits == best_hits and hits and own == theirs):
                    best, best_hits = (own, theirs), hits
    return best


def _linked(row: pd.Series, other: pd.DataFrame | None, link: tuple[str, str] | None):
    if other is None or link is None:
        return None
    own, theirs = link
    rows = other[other[theirs].astype(str) == str(row[own])]
    return rows.drop(columns=[c for c in LINK_COLUMNS if c in rows.columns])


def _feature_columns(segments: pd.DataFrame) -> list[str]:
    """Schema features when present; otherwise every plain numeric column."""
    schema = [f for f in LRFMC_FEATURES if f in segments.columns]
    if schema:
        return schema
    skip = {SEGMENT_ID, "n_customers", "share"}
    return [
        c
        for c in segments.columns
        if c not in skip
        and not any(part in str(c) for part in NOT_FEATURES)
        and pd.api.types.is_numeric_dtype(segments[c])
        and not pd.api.types.is_bool_dtype(segments[c])
    ]


def _split(value: object) -> list[str]:
    if _is_missing(value):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value if not _is_missing(v)]
    return [part.strip() for part in ACTION_SEPARATOR.split(str(value)) if part.strip()]


def _actions_list(rows: pd.DataFrame | None) -> str:
    """Bullets of the action text (lists and "; "-joined strings split); other columns as notes."""
    if rows is None or rows.empty:
        return ""
    text_col = next((c for c in ACTION_COLUMNS if c in rows.columns), rows.columns[0])
    items = [f"<li>{_e(a)}</li>" for value in rows[text_col] for a in _split(value)]
    extra = rows.drop(columns=text_col)
    notes = [
        f"{_label(col)}: {_fmt(v)}"
        for col in extra.columns
        for v in extra[col].drop_duplicates()
        if not _is_missing(v)
    ]
    note = f'<p class="muted">{_e(" · ".join(notes))}</p>' if notes else ""
    return (f"<ul>{''.join(items)}</ul>" if items else "") + note


def _products_list(rows: pd.DataFrame | None, limit: int = 5) -> str:
    """Bullets naming each product (description, else stock code) with share and lift."""
    if rows is None or rows.empty:
        return ""
    rows = rows.head(limit)
    details = [c for c in PRODUCT_DETAILS if c in rows.columns]
    formatters = {c: _column_formatter(rows[c], False) for c in details}
    items = []
    for _, row in rows.iterrows():
        name = row.get(DESCRIPTION)
        if _is_missing(name) or not str(name).strip():
            name = row.get(STOCK_CODE, row.iloc[0])
        code = row.get(STOCK_CODE)
        label = str(name).strip()
        if not _is_missing(code) and str(code) != label:
            label += f" ({code})"
        facts = " · ".join(f"{_label(c)}: {formatters[c](row[c])}" for c in details)
        extra = f' <span class="muted">{_e(facts)}</span>' if facts else ""
        items.append(f"<li>{_e(label)}{extra}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _card(
    row: pd.Series, features: list[str], overall: pd.Series, actions: str, products: str
) -> str:
    name = row.get(SEGMENT_NAME)
    if _is_missing(name):
        name = f"Segment {_fmt(row.get(SEGMENT_ID, ''))}"
    meta = []
    if SEGMENT_ID in row.index:
        meta.append(f"ID {_fmt(row[SEGMENT_ID])}")
    if "n_customers" in row.index:
        size = f"{_fmt(row['n_customers'])} customers"
        if "share" in row.index:
            size += f" ({_fmt(row['share'], share=True)} of all)"
        meta.append(size)
    texts = [
        f"<p>{_e(row[c])}</p>"
        for c in ("description", "summary")
        if c in row.index and not _is_missing(row[c]) and str(row[c]).strip()
    ]
    profile_rows = []
    for feature in features:
        value, base = row[feature], overall.get(feature, np.nan)
        share = _share_like(feature, [value, base])
        relative = MISSING
        if not _is_missing(value) and not _is_missing(base) and base:
            relative = f"{float(value) / float(base) - 1:+.0%}"
        profile_rows.append(
            f'<tr><th scope="row">{_e(_label(feature))}</th>'
            f'<td class="num">{_e(_fmt(value, share=share))}</td>'
            f'<td class="num">{_e(_fmt(base, share=share))}</td>'
            f'<td class="num">{_e(relative)}</td></tr>'
        )
    profile = (
        '<table class="profile"><thead><tr><th>Average customer</th>'
        '<th class="num">Segment</th><th class="num">All customers</th>'
        '<th class="num">vs all</th></tr></thead>'
        f"<tbody>{''.join(profile_rows)}</tbody></table>"
        if profile_rows
        else ""
    )
    return (
        '<article class="card">'
        f"<h3>{_e(name)}</h3>"
        f'<p class="muted">{_e(" · ".join(meta))}</p>'
        + "".join(texts)
        + profile
        + "<h4>Recommended actions</h4>"
        + (actions or _note("No actions were recorded for this segment."))
        + (f"<h4>Top products</h4>{products}" if products else "")
        + "</article>"
    )


def _segments(ctx: ReportContext) -> pd.DataFrame | None:
    return _as_columns(ctx.segments)


def _cards_section(ctx: ReportContext) -> str:
    segments = _segments(ctx)
    if segments is None or segments.empty:
        return _note("No segments to describe.")
    features = _feature_columns(segments)
    if "n_customers" in segments and segments["n_customers"].sum() > 0:
        weights = segments["n_customers"].astype(float)
        overall = segments[features].mul(weights, axis=0).sum() / weights.sum()
    else:
        overall = segments[features].mean()
    actions, products = _as_columns(ctx.actions), _as_columns(ctx.products)
    action_link, product_link = _link(segments, actions), _link(segments, products)
    cards = []
    for _, row in segments.iterrows():
        if products is None:
            picks = ""  # the product section explains why there are none
        elif product_link is None:
            picks = _note("No product picks were found for the segments.")
        else:
            picks = _products_list(_linked(row, products, product_link)) or _note(
                "No product stands out for this segment."
            )
        todo = _actions_list(_linked(row, actions, action_link))
        cards.append(_card(row, features, overall, todo, picks))
    intro = (
        "<p>Each card compares the segment's average customer with the average over all "
        'customers; "vs all" is the relative difference.</p>'
    )
    return intro + f'<div class="cards">{"".join(cards)}</div>'


def _sizes_section(ctx: ReportContext) -> str:
    figures = _figures_or_note(ctx, SIZE_FIGURES, "No segment size chart was provided.")
    segments = _segments(ctx)
    if segments is None:
        return figures
    columns = [SEGMENT_ID, SEGMENT_NAME, "n_customers", "share", *_feature_columns(segments)]
    shown = segments[[c for c in columns if c in segments.columns]]
    return (
        figures
        + "<p>Feature columns are the average customer of each segment.</p>"
        + _table(shown, empty="No segments.")
    )


def _rfm_section(ctx: ReportContext) -> str:
    if ctx.rfm_crosstab is None or ctx.rfm_crosstab.empty:
        return _note("No RFM score table is available for this run.")
    return (
        "<p>Customers per model segment (rows) and classic RFM score segment (columns); darker "
        "cells hold more customers. It shows how the model's segments line up with the usual "
        "recency-frequency-monetary scoring.</p>" + _table(ctx.rfm_crosstab, shade=True)
    )


PRODUCT_HELP = {
    "buyers": "customers in the segment who bought the product",
    "customer_share": "share of the segment's customers who bought it",
    "population_share": "share of all customers who bought it",
    "lift": "customer share ÷ population share; above 1 means the segment buys it more than "
    "average",
}


def _products_section(ctx: ReportContext) -> str:
    products = _as_columns(ctx.products)
    if products is None:
        return _note(
            ctx.products_note
            or "This dataset has no product information, so no product picks can be made."
        )
    intro = f"<p>{_e(ctx.products_note)}</p>" if ctx.products_note else ""
    explained = [f"{_label(c)}: {text}" for c, text in PRODUCT_HELP.items() if c in products]
    if explained:
        intro += f'<p class="muted">{_e("; ".join(explained))}.</p>'
    return intro + _table(products, empty="No product picks were found.")


def _eda_item(name: str, item: object) -> str:
    if isinstance(item, pd.Series):
        item = item.to_frame()
    if isinstance(item, pd.DataFrame):
        return _table(item)
    if isinstance(item, str):
        return _note(item)
    return _figure(name, item)


def _eda_section(eda: Mapping) -> str:
    """Flat name -> item entries, or ``{"figures": {...}, "tables": {...}}`` paired by name."""
    figures = eda.get("figures") if isinstance(eda.get("figures"), Mapping) else {}
    tables = eda.get("tables") if isinstance(eda.get("tables"), Mapping) else {}
    parts = []
    for name in dict.fromkeys([*figures, *tables]):
        parts.append(f"<h3>{_e(_label(name))}</h3>")
        if name in figures:
            parts.append(_eda_item(name, figures[name]))
        if name in tables:
            parts.append(_eda_item(name, tables[name]))
    for name, item in eda.items():
        if name in ("figures", "tables") and isinstance(item, Mapping):
            continue
        heading = "" if isinstance(item, str) else f"<h3>{_e(_label(name))}</h3>"
        parts.append(heading + _eda_item(name, item))
    return "".join(parts)


# --------------------------------------------------------------------------- page

CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #dde3ea; --accent: #4c72b0; --warm: #dd8452;
        --paper: #ffffff; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial,
       sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; background: var(--paper); }
header { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 8px; }
h1 { margin: 0 0 4px; font-size: 28px; }
h2 { margin: 36px 0 12px; font-size: 21px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
h3 { margin: 20px 0 8px; font-size: 16px; }
h4 { margin: 14px 0 4px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em;
     color: var(--muted); }
p { margin: 6px 0 10px; max-width: 80ch; }
.meta, .muted { color: var(--muted); font-size: 13px; }
.meta span + span::before { content: " · "; }
nav { margin: 10px 0 0; font-size: 13px; display: flex; flex-wrap: wrap; gap: 2px 14px; }
nav a { color: var(--accent); text-decoration: none; white-space: nowrap; }
.note { color: var(--muted); font-style: italic; }
.table-wrap { overflow-x: auto; margin: 6px 0 14px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
thead th { background: #eef2f7; font-weight: 600; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
table.kv th { font-weight: 600; white-space: nowrap; }
td.help { color: var(--muted); font-size: 12px; max-width: 46ch; }
tr.chosen td { background: #fff3e6; font-weight: 600; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 8px;
         background: var(--warm); color: #fff; font-size: 11px; font-weight: 600; }
.two-col { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
           gap: 8px 28px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.tile { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
        background: #fafbfd; }
.tile-value { font-size: 22px; font-weight: 600; color: var(--accent); }
.tile-label { font-size: 12px; color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 6px;
        padding: 6px 16px 12px; break-inside: avoid; }
.card h3 { margin: 8px 0 0; font-size: 18px; }
.card ul { margin: 4px 0 8px; padding-left: 20px; font-size: 14px; }
table.profile { width: 100%; margin: 6px 0; }
table.profile th { white-space: nowrap; }
table.profile tbody th { white-space: normal; }
figure { margin: 14px 0 20px; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
.figure-row { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
              gap: 0 20px; align-items: end; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } main { padding: 0; } nav { display: none; } }
"""


def render_report(ctx: ReportContext) -> str:
    """The report as one HTML string with no external references."""
    other_figures = [
        name
        for name in ctx.figures
        if name not in (*CHOICE_FIGURES, *PROFILE_FIGURES, *SIZE_FIGURES)
    ]
    sections = [
        ("summary", _summary(ctx)),
        ("data", _data_section(ctx)),
        ("choice", _choice_section(ctx)),
        (
            "profiles",
            _figures_or_note(ctx, PROFILE_FIGURES, "No profile chart was provided."),
        ),
        ("sizes", _sizes_section(ctx)),
        ("cards", _cards_section(ctx)),
        ("rfm", _rfm_section(ctx)),
        ("products", _products_section(ctx)),
    ]
    titles = dict(SECTIONS)
    if other_figures:
        sections.append(("figures", "".join(_figure(n, ctx.figures[n]) for n in other_figures)))
        titles["figures"] = EXTRA_SECTIONS["figures"]
    if ctx.eda:
        sections.append(("eda", _eda_section(ctx.eda)))
        titles["eda"] = EXTRA_SECTIONS["eda"]

    nav = "\n".join(f'<a href="#{key}">{_e(titles[key])}</a>' for key, _ in sections)
    meta = [f"Experiment: {ctx.experiment}", f"Created: {ctx.created}"]
    if ctx.run_id:
        meta.append(f"Run ID: {ctx.run_id}")
    body = "".join(_section(key, titles[key], content) for key, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{_e(ctx.title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{_e(ctx.title)}</h1>"
        f'<div class="meta">{"".join(f"<span>{_e(m)}</span>" for m in meta)}</div>'
        f"<nav>{nav}</nav></header>"
        f"{body}"
        f"<footer>{_e(ctx.title)} · {_e(ctx.created)}"
        + (f" · run {_e(ctx.run_id)}" if ctx.run_id else "")
        + "</footer></main></body></html>\n"
    )


def write_report(ctx: ReportContext, path: str | Path) -> Path:
    """Render ``ctx`` to ``path`` (parent folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(ctx), encoding="utf-8")
    return path

"""One function per section of the report; each takes the :class:`ReportContext` and returns
HTML. Figures are placed by :class:`~src.result.FigureId` and captioned in words."""

from __future__ import annotations

import pandas as pd

from src.columns import DESCRIPTION, STOCK_CODE
from src.report.context import ReportContext, SegmentCard
from src.report.format import (
    MISSING,
    column_formatter,
    e,
    figure,
    fmt,
    is_missing,
    key_values,
    label,
    note,
    share_like,
    table,
)
from src.result import FigureId

CAPTIONS = {
    FigureId.RADAR: "Profile of every segment across the model features.",
    FigureId.RADAR_GRID: "One profile chart per segment.",
    FigureId.SIZES: "Customers per segment.",
    FigureId.MEANS: "The average customer of each segment, in real units.",
    FigureId.ELBOW: (
        "Within-segment spread (inertia) by number of segments: the bend marks diminishing returns."
    ),
    FigureId.SILHOUETTE_VS_K: (
        "Silhouette score by number of segments (higher means better separated)."
    ),
    FigureId.SILHOUETTE_DIAGRAM: "Silhouette of each customer, grouped by segment.",
    FigureId.PCA: "Customers projected onto the first two principal components, by segment.",
    FigureId.SCATTER_3D: "Customers in recency, frequency and spend, coloured by segment.",
    FigureId.SCATTER_MATRIX: "Every pair of features, coloured by segment.",
    FigureId.OPTUNA_HISTORY: "Score of every trial of the sweep and the best so far.",
    FigureId.OPTUNA_IMPORTANCES: "Which sweep settings moved the score most.",
    FigureId.VALUE_P_ALIVE: "How likely each segment's customers are still buying (P(alive)).",
    FigureId.VALUE_BY_SEGMENT: (
        "Expected lifetime value per segment; the hatched part is held by at-risk customers."
    ),
    FigureId.VALUE_CALIBRATION: (
        "Holdout: mean purchase days after the cut-off, actual against predicted, by how often "
        "the customers bought before it."
    ),
}
CHOICE_FIGURES = (FigureId.ELBOW, FigureId.SILHOUETTE_VS_K)
PROFILE_FIGURES = (FigureId.RADAR, FigureId.RADAR_GRID, FigureId.MEANS)
SIZE_FIGURES = (FigureId.SIZES,)
VALUE_FIGURES = (FigureId.VALUE_P_ALIVE, FigureId.VALUE_BY_SEGMENT)
PLACED = frozenset(
    (*CHOICE_FIGURES, *PROFILE_FIGURES, *SIZE_FIGURES, *VALUE_FIGURES, FigureId.VALUE_CALIBRATION)
)

METRIC_HELP = {
    "silhouette": "How much closer customers are to their own segment than to the nearest other "
    "one; from −1 to 1, higher is better.",
    "davies_bouldin": "Average likeness of each segment to its most similar neighbour; 0 and up, "
    "lower is better.",
    "calinski_harabasz": "Spread between segments relative to spread within them; higher is better.",
    "stability_ari": "How consistently the same segments come back when the model is refit on "
    "resampled customers; 1 means identical.",
    "inertia": "Within-segment sum of squared distances; lower is tighter but it always falls as "
    "segments are added.",
    "min_cluster_share": "Share of customers in the smallest segment.",
    "max_cluster_share": "Share of customers in the largest segment.",
    "ground_truth_ari": "Agreement with the planted segments of the synthetic data; 1 means "
    "identical.",
    "n_clusters": "Number of segments found.",
}
PRODUCT_HELP = {
    "buyers": "customers in the segment who bought the product",
    "customer_share": "share of the segment's customers who bought it",
    "population_share": "share of all customers who bought it",
    "lift": "customer share ÷ population share; above 1 means the segment buys it more than "
    "average",
}
PRODUCT_DETAILS = ("customer_share", "lift")


def figures(ctx: ReportContext, ids: tuple[FigureId, ...]) -> str:
    return "".join(figure(ctx.figures[f], CAPTIONS[f]) for f in ids if f in ctx.figures)


def summary(ctx: ReportContext) -> str:
    tiles = [
        ("Customers segmented", fmt(int(ctx.segments["n_customers"].sum()))),
        ("Segments", fmt(len(ctx.segments))),
        ("Model", fmt(ctx.chosen.get("model"))),
    ]
    if "silhouette" in ctx.metrics:
        tiles.append(("Silhouette", fmt(ctx.metrics["silhouette"], precise=True)))
    if "stability_ari" in ctx.metrics:
        tiles.append(("Stability (ARI)", fmt(ctx.metrics["stability_ari"], precise=True)))
    if len(ctx.segments):
        largest = ctx.segments.loc[ctx.segments["share"].idxmax()]
        tiles.append((f"Largest: {largest['segment_name']}", fmt(largest["share"], share=True)))
    body = "".join(
        f'<div class="tile"><div class="tile-value">{e(value)}</div>'
        f'<div class="tile-label">{e(name)}</div></div>'
        for name, value in tiles
    )
    worth = f"<p><strong>{e(ctx.worth_note)}</strong></p>" if ctx.worth_note else ""
    why = f"<p>{e(ctx.k_reason)}</p>" if ctx.k_reason else ""
    return f'<div class="tiles">{body}</div>' + worth + why + "".join(note(n) for n in ctx.notes)


def data(ctx: ReportContext) -> str:
    facts = key_values(ctx.dataset)
    cleaning = ctx.cleaning
    if cleaning is None or cleaning.empty:
        return facts + "<h3>Cleaning</h3>" + note("No cleaning steps were recorded.")
    shown = cleaning.copy()
    if not shown["skipped"].any():
        shown = shown.drop(columns=["skipped", "note"], errors="ignore")
    shown["share_removed"] = shown["rows_removed"] / shown["rows_in"].replace(0, float("nan"))
    first, last = shown["rows_in"].iloc[0], shown["rows_out"].iloc[-1]
    kept = f" ({fmt(last / first, share=True)})" if first else ""
    intro = (
        f"<p>Cleaning kept {e(fmt(last))} of {e(fmt(first))} rows{e(kept)}. Each rule below "
        "removes rows that would distort customer behaviour; rules run in the order shown.</p>"
    )
    return facts + "<h3>Cleaning</h3>" + intro + table(shown)


def _objective_text(ctx: ReportContext) -> str:
    return (
        "Every candidate configuration (outlier handling, scaling, model and number of segments) "
        f"was scored by its {label(ctx.objective).lower()} measured in one fixed space: the "
        "features after a log1p transform and standardisation, whatever the candidate's own "
        "preprocessing. Scores are therefore comparable across candidates and a scaler cannot "
        "win by reshaping the space it is judged in. Candidates whose smallest segment held "
        f"less than {ctx.min_cluster_share:.0%} of customers were rejected, so a winner cannot "
        "come from splitting off a handful of extreme customers."
    )


def choice(ctx: ReportContext) -> str:
    trials = ctx.trials
    winner = None
    if not trials.empty and "trial" in trials:
        hits = trials.index[trials["trial"] == ctx.chosen_trial]
        winner = int(hits[0]) if len(hits) else None
    pair = figures(ctx, CHOICE_FIGURES)
    return "".join(
        [
            why_k(ctx),
            '<div class="two-col"><div><h3>Configuration</h3>',
            key_values(ctx.chosen),
            "</div><div><h3>Quality of the chosen segmentation</h3>",
            key_values(ctx.metrics, precise=True, help_text=METRIC_HELP),
            "</div></div>",
            "<h3>How candidates were compared</h3>",
            f"<p>{e(_objective_text(ctx))}</p>",
            "<h3>Best candidates</h3>",
            '<p class="muted">One row per configuration tried; repeats counts how often the '
            "sampler proposed it again (it was not refitted).</p>",
            table(trials, precise=True, highlight=winner, empty="No trial table was recorded."),
            f'<div class="figure-row">{pair}</div>' if pair else "",
        ]
    )


K_RULE_TEXT = (
    "How k is chosen: the sweep's best trial picks the outlier handling, scaling and model; "
    "every number of segments is then fitted for that configuration. Only k whose smallest "
    "segment holds at least {share:.0%} of customers are acceptable. The candidates are the k "
    "next to the knee of the inertia curve, where extra segments stop buying much tighter "
    "groups (silhouette alone favours two coarse groups on skewed retail data). Among them, "
    "those whose silhouette and Davies–Bouldin are within the tolerance of the best are well "
    "separated; the largest of these whose segments come back when the model is refit on "
    "resampled customers (stability) is chosen."
)


def why_k(ctx: ReportContext) -> str:
    """ "Why k=5": the sentence, the rule in words and the table of its inputs per k."""
    if ctx.k_choice is None or ctx.k_choice.empty:
        return ""
    table_ = ctx.k_choice.reset_index(drop=True)
    hits = table_.index[table_["verdict"] == "chosen"] if "verdict" in table_ else []
    chosen = int(hits[0]) if len(hits) else None
    k = int(table_.loc[chosen, "k"]) if chosen is not None else ctx.chosen.get("k")
    ruled = "well_separated" in table_  # the k rule ran (not sweep.k_choice.rule=objective)
    rule_text = K_RULE_TEXT.format(share=ctx.min_cluster_share) if ruled else ""
    return "".join(
        [
            f"<h3>Why k={e(k)}</h3>",
            f"<p>{e(ctx.k_reason)}</p>" if ctx.k_reason else "",
            f'<p class="muted">{e(rule_text)}</p>' if rule_text else "",
            table(
                table_.drop(columns="well_separated", errors="ignore"),
                precise=True,
                highlight=chosen,
            ),
        ]
    )


def profiles(ctx: ReportContext) -> str:
    return figures(ctx, PROFILE_FIGURES) or note("No profile chart could be drawn for this run.")


def sizes(ctx: ReportContext) -> str:
    return (
        (figures(ctx, SIZE_FIGURES) or note("No segment size chart could be drawn for this run."))
        + "<p>What each segment is worth: its share of customers and of revenue, its average "
        "order value and revenue per customer; feature columns are the average customer of "
        "each segment.</p>" + table(ctx.segments, empty="No segments.")
    )


def _products_list(rows: pd.DataFrame) -> str:
    """Bullets naming each product (description, else stock code) with share and lift."""
    details = [c for c in PRODUCT_DETAILS if c in rows.columns]
    formatters = {c: column_formatter(rows[c], False) for c in details}
    items = []
    for _, row in rows.iterrows():
        name, code = row.get(DESCRIPTION), row.get(STOCK_CODE)
        text = str(code) if is_missing(name) or not str(name).strip() else str(name).strip()
        if not is_missing(code) and str(code) != text:
            text += f" ({code})"
        facts = " · ".join(f"{label(c)}: {formatters[c](row[c])}" for c in details)
        extra = f' <span class="muted">{e(facts)}</span>' if facts else ""
        items.append(f"<li>{e(text)}{extra}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _evidence_html(ev) -> str:
    """The level and z-score a name was judged on, e.g. "very high" over "z +2.30"."""
    if ev.z is None:
        return e(MISSING)
    level = (ev.level or "").replace("_", " ")
    z = f'<span class="muted">z {ev.z:+.2f}</span>'
    return f"{e(level)}<br>{z}" if level else z


def _profile_table(ctx: ReportContext, card: SegmentCard) -> str:
    rows = []
    for feature in ctx.features:
        ev = card.evidence.get(feature)
        if ev is None:
            continue
        share = share_like(feature, [ev.typical, ev.overall])
        relative = f"{ev.typical / ev.overall - 1:+.0%}" if ev.overall else MISSING
        rows.append(
            f'<tr><th scope="row">{e(label(feature))}</th>'
            f'<td class="num">{e(fmt(ev.typical, share=share))}</td>'
            f'<td class="num">{e(fmt(ev.overall, share=share))}</td>'
            f'<td class="num">{e(relative)}</td>'
            f'<td class="num level">{_evidence_html(ev)}</td></tr>'
        )
    return (
        '<div class="table-wrap"><table class="profile"><thead><tr>'
        "<th>Typical customer (median)</th>"
        '<th class="num">Segment</th><th class="num">All customers</th>'
        '<th class="num">vs all</th><th class="num">Level (z)</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _worth_line(card: SegmentCard) -> str:
    w = card.worth
    if "revenue_share" not in w:
        return ""
    parts = [f"{fmt(w['revenue_share'], share=True)} of revenue"]
    if "avg_order_value" in w:
        parts.append(f"average order value {fmt(w['avg_order_value'])}")
    if "revenue_per_customer" in w:
        parts.append(f"revenue per customer {fmt(w['revenue_per_customer'])}")
    return f'<p class="worth">{e(" · ".join(parts))}</p>'


def _value_line(ctx: ReportContext, card: SegmentCard) -> str:
    v = card.value
    if not v:
        return ""
    months = ctx.value_settings.get("clv_months")
    horizon = f" over {months} months" if months else ""
    parts = [
        f"P(alive) {fmt(v['mean_p_alive'], precise=True)}",
        f"lifetime value per customer {fmt(v['mean_clv'])}{horizon}",
        f"{fmt(v['clv_share'], share=True)} of all value",
        f"at risk: {fmt(v['at_risk_customer_share'], share=True)} of customers, "
        f"{fmt(v['at_risk_clv_share'], share=True)} of its value",
    ]
    return f'<p class="worth">{e(" · ".join(parts))}</p>'


VALUE_LABELS = {
    "mean_p_alive": "Mean P(alive)",
    "mean_expected_purchases": "Expected purchases per customer",
    "clv": "Lifetime value",
    "mean_clv": "Lifetime value per customer",
    "clv_share": "Share of value",
    "at_risk_customer_share": "At-risk share of customers",
    "at_risk_clv": "Value held by at-risk customers",
    "at_risk_clv_share": "At-risk share of value",
}


def value(ctx: ReportContext) -> str:
    """What the segments are worth: the value model's table, figures and holdout errors."""
    if ctx.value_segments is None:
        return ""
    cfg, m = ctx.value_settings, ctx.value_metrics
    intro = (
        f"<p>A buy-till-you-die model ({e(ctx.value_model)}, pymc-marketing) fitted on the "
        "cleaned log: P(alive) is the probability a customer still buys at the snapshot, "
        f"expected purchases count purchase days in the next {e(cfg.get('purchase_days'))} days, "
        f"lifetime value is the expected spend over {e(cfg.get('clv_months'))} months "
        f"discounted by {fmt(cfg.get('discount_rate', 0), share=True)} a month. Customers below "
        f"P(alive) {e(cfg.get('at_risk_p_alive'))} are at risk.</p>"
    )
    frame = ctx.value_segments.drop(
        columns=["expected_purchases", "at_risk_customers"], errors="ignore"
    ).rename(columns=VALUE_LABELS)
    body = (
        intro
        + "".join(note(n) for n in ctx.value_notes)
        + table(frame)
        + figures(ctx, VALUE_FIGURES)
    )
    if "value.holdout.mae" in m:
        aggregate = m["value.holdout.aggregate_error"]
        body += (
            f"<h3>Can it be trusted? A holdout of {fmt(m['value.holdout.days'], integral=True)} "
            "days</h3>"
            f"<p>Fitted again on purchases before the cut-off only and asked for the "
            f"{fmt(m['value.holdout.customers'], integral=True)} customers' purchase days after "
            f"it: mean absolute error {fmt(m['value.holdout.mae'], precise=True)} per customer "
            f"(a naive rate of past purchases: {fmt(m['value.holdout.baseline_mae'], precise=True)}"
            f"); all customers together {fmt(m['value.holdout.predicted_purchases'], integral=True)} "
            f"predicted against {fmt(m['value.holdout.actual_purchases'], integral=True)} actual "
            f"({aggregate:+.0%}).</p>" + figures(ctx, (FigureId.VALUE_CALIBRATION,))
        )
    return body


def _rule_block(card: SegmentCard) -> str:
    if not card.rule:
        return ""
    stats = []
    if card.rule_precision is not None:
        stats.append(f"precision {card.rule_precision:.0%}")
    if card.rule_coverage is not None:
        stats.append(f"coverage {card.rule_coverage:.0%}")
    extra = f' <span class="muted">({e(", ".join(stats))})</span>' if stats else ""
    return f'<h4>How to find them</h4><p class="rule"><code>{e(card.rule)}</code>{extra}</p>'


def _card(ctx: ReportContext, card: SegmentCard) -> str:
    meta = f"ID {card.segment_id} · {fmt(card.n_customers)} customers ({fmt(card.share, share=True)} of all)"
    actions = (
        f"<ul>{''.join(f'<li>{e(a)}</li>' for a in card.actions)}</ul>"
        if card.actions
        else note("No actions were recorded for this segment.")
    )
    products = ""
    if ctx.products is not None:
        picks = card.products
        if picks is not None and "lift" in picks.columns:
            # A pick the segment buys no more than all customers do is not its pick.
            picks = picks[picks["lift"] > 1]
        products = "<h4>Top products</h4>" + (
            _products_list(picks)
            if picks is not None and not picks.empty
            else note(
                "No product stands out for this segment: it buys no product more often than "
                "all customers do, so it has no distinctive picks."
            )
        )
    return (
        '<article class="card">'
        f"<h3>{e(card.name)}</h3>"
        f'<p class="muted">{e(meta)}</p>'
        + _worth_line(card)
        + _value_line(ctx, card)
        + (f"<p>{e(card.description)}</p>" if card.description else "")
        + _profile_table(ctx, card)
        + _rule_block(card)
        + "<h4>Recommended actions</h4>"
        + actions
        + products
        + "</article>"
    )


def cards(ctx: ReportContext) -> str:
    if not ctx.cards:
        return note("No segments to describe.")
    intro = (
        "<p>Each card compares the segment's typical (median) customer with the typical "
        'customer of all; "vs all" is the relative difference. Level (z) is the evidence the '
        "name came from: how far the segment's typical customer sits from all customers in "
        "standard deviations of the log-scaled feature. A name never claims a trait its card "
        "contradicts. How to find them is a plain rule that picks out the segment's customers: "
        "precision is the share of customers it picks who are in the segment, coverage the "
        "share of the segment it picks.</p>"
    )
    return intro + f'<div class="cards">{"".join(_card(ctx, c) for c in ctx.cards)}</div>'


def rules(ctx: ReportContext) -> str:
    if ctx.rules is None or ctx.rules.empty:
        return note("No segment rules were computed for this run.")
    return (
        "<p>Plain rules that find each segment in a CRM system, read off a shallow decision tree "
        "fitted on the segment labels (one tree per segment against the rest). Precision: "
        "share of the customers a rule picks who are in the segment; coverage: share of the "
        "segment's customers it picks.</p>" + table(ctx.rules)
    )


def rfm(ctx: ReportContext) -> str:
    if ctx.rfm_crosstab is None or ctx.rfm_crosstab.empty:
        return note("No RFM score table is available for this run.")
    return (
        "<p>Customers per model segment (rows) and classic RFM score segment (columns); darker "
        "cells hold more customers. It shows how the model's segments line up with the usual "
        "recency-frequency-monetary scoring.</p>" + table(ctx.rfm_crosstab, shade=True)
    )


def products(ctx: ReportContext) -> str:
    if ctx.products is None:
        return note(
            ctx.products_note
            or "This dataset has no product information, so no product picks can be made."
        )
    intro = f"<p>{e(ctx.products_note)}</p>" if ctx.products_note else ""
    explained = [f"{label(c)}: {text}" for c, text in PRODUCT_HELP.items() if c in ctx.products]
    if explained:
        intro += f'<p class="muted">{e("; ".join(explained))}.</p>'
    return intro + table(ctx.products, empty="No product picks were found.")


def more_figures(ctx: ReportContext) -> str:
    return figures(ctx, tuple(f for f in FigureId if f not in PLACED))

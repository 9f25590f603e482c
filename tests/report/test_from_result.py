"""The report built from a real sweep result: what an analyst opening it would see."""

from __future__ import annotations

import dataclasses
import html
import re

import pandas as pd
import pytest

from src.report.context import ReportContext
from src.report.page import SECTIONS, render_report, write_report
from src.report.sections import CAPTIONS
from src.result import FigureId

DATA_URI = "data:image/png;base64,"


@pytest.fixture(scope="module")
def ctx(sweep_result) -> ReportContext:
    return ReportContext.from_result(sweep_result[0], run_id="abc123", created="2024-05-01 10:00")


@pytest.fixture(scope="module")
def page(ctx) -> str:
    return render_report(ctx)


def section(page: str, key: str) -> str:
    start = page.index(f'<section id="{key}">')
    return page[start : page.index("</section>", start)]


def card(page: str, name: str) -> str:
    start = page.index(f"<h3>{html.escape(name)}</h3>")
    return page[start : page.index("</article>", start)]


# The value section needs the value model (value=default); the sweep here runs without it.
OPTIONAL = {"value"}


@pytest.mark.parametrize(("key", "title"), [(k, t) for k, t, _ in SECTIONS if k not in OPTIONAL])
def test_every_section_is_present(page, key, title):
    assert f'<section id="{key}"><h2>{title}</h2>' in page


def test_without_the_value_model_the_report_has_no_value_section(page):
    assert '<section id="value">' not in page
    assert "P(alive)" not in page


def test_the_radar_chart_is_under_segment_profiles(page):
    profiles = section(page, "profiles")
    assert CAPTIONS[FigureId.RADAR] in profiles and DATA_URI in profiles
    assert "No profile chart" not in page


def test_the_size_chart_is_under_segment_sizes(page):
    sizes = section(page, "sizes")
    assert CAPTIONS[FigureId.SIZES] in sizes and DATA_URI in sizes
    assert "No segment size chart" not in page


def test_the_elbow_and_silhouette_curves_explain_the_choice(page):
    choice = section(page, "choice")
    assert CAPTIONS[FigureId.ELBOW] in choice and CAPTIONS[FigureId.SILHOUETTE_VS_K] in choice


def test_every_figure_appears_once_with_a_caption_in_words(ctx, page):
    assert page.count(f'src="{DATA_URI}') == len(ctx.figures)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert len(captions) == len(ctx.figures)
    assert not any(".png" in c or "_" in c for c in captions)


def test_every_segment_has_a_card_with_its_size_and_actions(ctx, page):
    for c in ctx.cards:
        text = card(page, c.name)
        assert f"{c.n_customers:,} customers" in text
        assert c.actions and all(a in text for a in c.actions)


def test_cards_compare_the_segment_with_all_customers(ctx, page):
    text = card(page, ctx.cards[0].name)
    assert "vs all" in text and "Recency (days since last order)" in text
    assert "Level (z)" in text


def test_the_chosen_trial_is_highlighted_once(ctx, page):
    candidates = section(page, "choice").split("<h3>Best candidates</h3>")[1]
    rows = re.findall(r'<tr class="chosen">(.*?)</tr>', candidates)
    assert len(rows) == 1
    assert f">{ctx.chosen_trial} <span" in rows[0]


def test_the_choice_section_explains_why_this_k(ctx, page):
    choice = section(page, "choice")
    k = ctx.chosen["k"]
    assert f"<h3>Why k={k}</h3>" in choice
    why = choice.split(f"<h3>Why k={k}</h3>")[1].split("<h3>")[0]
    assert ctx.k_reason.split(":")[0] in why
    chosen = re.findall(r'<tr class="chosen">(.*?)</tr>', why)
    assert len(chosen) == 1 and f">{k} <span" in chosen[0]
    assert len(re.findall(r"<tr", why)) == len(ctx.k_choice) + 1  # one row per k + header


def test_every_card_states_its_revenue_share_and_rule(ctx, page):
    for c in ctx.cards:
        text = card(page, c.name)
        assert f"{c.worth['revenue_share']:.1%} of revenue" in text
        assert "average order value" in text
        assert "<h4>How to find them</h4>" in text and "precision" in text and "coverage" in text


def test_cards_show_the_z_scores_the_name_came_from(ctx, page):
    c = ctx.cards[0]
    text = card(page, c.name)
    ev = c.evidence["recency_days"]
    assert f"z {ev.z:+.2f}</span>" in text
    assert "Typical customer (median)" in text


def test_the_summary_says_what_the_segments_are_worth(ctx, page):
    assert ctx.worth_note and ctx.worth_note in section(page, "summary")
    assert "of revenue" in ctx.worth_note


def test_the_rules_section_lists_one_rule_per_segment(ctx, page):
    rules = section(page, "rules")
    for c in ctx.cards:
        assert c.rule is not None
        assert html.escape(c.name) in rules


def test_the_best_candidates_list_each_configuration_once(ctx):
    configs = ctx.trials[["outliers", "scaler", "model", "k"]]
    assert not configs.duplicated().any()


def test_segment_names_from_the_data_are_escaped(ctx):
    evil = dataclasses.replace(ctx.cards[0], name="<script>alert(1)</script>")
    page = render_report(dataclasses.replace(ctx, cards=(evil, *ctx.cards[1:])))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_network_references(page):
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page


@pytest.mark.parametrize("note", [None, "This dataset has no stock codes."])
def test_missing_products_render_a_note(ctx, note):
    page = render_report(dataclasses.replace(ctx, products=None, products_note=note))
    assert (note or "no product information") in section(page, "products")
    assert "<h4>Top products</h4>" not in page


def test_cleaning_is_summarised_in_words(ctx, page):
    first = int(ctx.cleaning["rows_in"].iloc[0])
    assert f"of {first:,} rows" in section(page, "data")


def test_numbers_are_formatted_for_people(ctx, page):
    assert f"{ctx.metrics['silhouette']:.3f}" in section(page, "choice")
    total = int(ctx.segments["n_customers"].sum())
    assert f"{total:,}" in section(page, "summary")


def test_warnings_from_the_data_show_in_the_summary(ctx):
    page = render_report(dataclasses.replace(ctx, notes=("12 lines dated in the future",)))
    assert "12 lines dated in the future" in section(page, "summary")


def test_write_report_creates_folders_and_returns_path(ctx, tmp_path):
    path = write_report(ctx, tmp_path / "nested" / "report.html")
    assert path.read_text(encoding="utf-8") == render_report(ctx)


def test_the_rfm_crosstab_has_a_total_row(ctx, page):
    assert isinstance(ctx.rfm_crosstab, pd.DataFrame)
    assert 'class="total"' in section(page, "rfm")


def test_a_segment_that_buys_nothing_more_than_everyone_gets_no_top_products(ctx):
    first = ctx.cards[0]
    picks = pd.DataFrame(
        {"stock_code": ["A1", "B2"], "description": ["MUG", "BAG"], "lift": [0.4, 1.6]}
    )
    below = picks.assign(lift=[0.4, 0.9])
    with_pick = render_report(
        dataclasses.replace(ctx, cards=(dataclasses.replace(first, products=picks),))
    )
    without = render_report(
        dataclasses.replace(ctx, cards=(dataclasses.replace(first, products=below),))
    )
    assert "BAG" in card(with_pick, first.name) and "MUG" not in card(with_pick, first.name)
    assert "no distinctive picks" in card(without, first.name)
    assert "MUG" not in card(without, first.name)

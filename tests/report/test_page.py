import dataclasses
import re

import pandas as pd
import pytest
from matplotlib.figure import Figure

from src.columns import DESCRIPTION, FREQUENCY, MONETARY, RECENCY, SEGMENT_ID, SEGMENT_NAME
from src.report.page import (
    EXTRA_SECTIONS,
    SECTIONS,
    ReportContext,
    figure_to_png,
    render_report,
    write_report,
)

DATA_URI = "data:image/png;base64,"


@pytest.fixture(scope="module")
def png() -> bytes:
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    return figure_to_png(fig, dpi=20)


@pytest.fixture
def ctx(png) -> ReportContext:
    segments = pd.DataFrame(
        {
            SEGMENT_NAME: ["Champions", "<script>alert(1)</script>"],
            "description": ["Buy often & spend most.", "Rarely seen."],
            "n_customers": [12345, 4000],
            "share": [12345 / 16345, 4000 / 16345],
            RECENCY: [10.0, 200.0],
            FREQUENCY: [8.0, 1.0],
            MONETARY: [2500.0, 90.0],
        },
        index=pd.Index([0, 1], name=SEGMENT_ID),
    )
    actions = pd.DataFrame(
        {
            SEGMENT_NAME: ["Champions", "<script>alert(1)</script>"],
            "actions": ["Reward loyalty; Ask for referrals", "Win-back email"],
        },
        index=pd.Index([0, 1], name=SEGMENT_ID),
    )
    products = pd.DataFrame(
        {
            "segment": ["Champions", "Champions", "<script>alert(1)</script>"],
            "rank": [1, 2, 1],
            "stock_code": ["85123A", "22423", "47566"],
            DESCRIPTION: ["HEART T-LIGHT HOLDER", "CAKESTAND", "PARTY BUNTING"],
            "customer_share": [0.36, 0.30, 0.12],
            "lift": [1.8, 1.5, 0.6],
        }
    )
    trials = pd.DataFrame(
        {
            "trial": [7, 3, 11],
            "model": ["kmeans", "gmm", "kmeans"],
            "k": [4, 5, 3],
            "silhouette": [0.41, 0.39, 0.37],
        }
    )
    return ReportContext(
        title="Segments of the shop",
        experiment="lrfmc",
        run_id="abc123",
        created="2024-05-01 10:00",
        dataset={
            "name": "retail",
            "source": "retail.csv",
            "kind": "transactions",
            "rows": 397924,
            "customers": 16345,
            "fingerprint": "f00d",
            "snapshot_date": pd.Timestamp("2011-12-10"),
        },
        cleaning=pd.DataFrame(
            {
                "rule": ["drop missing customer", "drop returns"],
                "rows_in": [541909, 406829],
                "rows_removed": [135080, 8905],
                "rows_out": [406829, 397924],
            }
        ),
        chosen={"scaler": "standard", "model": {"name": "kmeans", "k": 4}},
        metrics={"silhouette": 0.4123, "davies_bouldin": 0.9, "min_cluster_share": 0.12},
        top_trials=trials,
        segments=segments,
        actions=actions,
        rfm_crosstab=pd.crosstab(
            pd.Series(["Champions", "Champions", "Lost"], name=SEGMENT_NAME),
            pd.Series(["Champions", "Loyal", "Lost"], name="score_segment"),
            margins=True,
            margins_name="Total",
        ),
        products=products,
        products_note=None,
        figures={"radar": png, "sizes": png, "elbow": png, "pca": png},
        chosen_trial=3,
        min_cluster_share=0.05,
    )


@pytest.fixture
def page(ctx) -> str:
    return render_report(ctx)


def _card(page: str, name: str) -> str:
    start = page.index(f"<h3>{name}</h3>")
    return page[start : page.index("</article>", start)]


@pytest.mark.parametrize("heading", [*SECTIONS.values(), EXTRA_SECTIONS["figures"]])
def test_every_section_heading_is_present(page, heading):
    assert f"<h2>{heading}</h2>" in page


def test_every_figure_is_embedded_as_png_data_uri(ctx, page):
    assert page.count(f'src="{DATA_URI}') == len(ctx.figures)


def test_matplotlib_figures_are_converted(ctx):
    fig = Figure(figsize=(1, 1))
    fig.add_subplot()
    page = render_report(dataclasses.replace(ctx, figures={"pca": fig}))
    assert page.count(DATA_URI) == 1


def test_segment_names_are_escaped(page):
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_network_references(page):
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "@import" not in page and "url(" not in page


def test_content_security_policy_blocks_fetches(page):
    assert "default-src 'none'" in page


@pytest.mark.parametrize("note", [None, "This dataset has no stock codes."])
def test_missing_products_render_a_note(ctx, note):
    page = render_report(dataclasses.replace(ctx, products=None, products_note=note))
    assert f"<h2>{SECTIONS['products']}</h2>" in page
    assert (note or "no product information") in page
    assert "HEART T-LIGHT HOLDER" not in page


@pytest.mark.parametrize(
    "field", ["cleaning", "rfm_crosstab", "eda", "run_id", "min_cluster_share", "chosen_trial"]
)
def test_optional_parts_may_be_missing(ctx, field):
    page = render_report(dataclasses.replace(ctx, **{field: None}))
    assert f"<h2>{SECTIONS['cards']}</h2>" in page


def test_chosen_trial_row_is_highlighted(page):
    row = re.search(r'<tr class="chosen">(.*?)</tr>', page).group(1)
    assert ">3 <span" in row and "gmm" in row
    assert page.count('class="chosen"') == 1


def test_without_chosen_trial_the_first_row_wins(ctx):
    page = render_report(dataclasses.replace(ctx, chosen_trial=None))
    row = re.search(r'<tr class="chosen">(.*?)</tr>', page).group(1)
    assert ">7 <span" in row


def test_cards_show_each_segments_own_actions_and_products(page):
    champions = _card(page, "Champions")
    assert "<li>Reward loyalty</li>" in champions and "<li>Ask for referrals</li>" in champions
    assert "HEART T-LIGHT HOLDER" in champions
    assert "Win-back email" not in champions and "PARTY BUNTING" not in champions


def test_numbers_are_formatted_for_people(page):
    assert "12,345 customers" in page
    assert "75.5%" in page  # 12,345 of 16,345
    assert "397,924" in page
    assert "0.412" in page and "0.4123" not in page


def test_objective_sentence_names_the_smallest_segment_rule(page):
    assert "log1p" in page and "less than 5%" in page


def test_eda_pairs_figures_with_tables(ctx, png):
    table = pd.DataFrame({"year": [2010, 2011], "orders": [1400, 17132]})
    eda = {"figures": {"orders_per_year": png}, "tables": {"orders_per_year": table}}
    page = render_report(dataclasses.replace(ctx, eda=eda))
    section = page[page.index(f"<h2>{EXTRA_SECTIONS['eda']}</h2>") :]
    assert DATA_URI in section and "17,132" in section
    assert ">2011<" in section  # years without thousands separators


def test_write_report_creates_folders_and_returns_path(ctx, tmp_path):
    path = write_report(ctx, tmp_path / "nested" / "report.html")
    assert path.read_text(encoding="utf-8") == render_report(ctx)


def test_cards_ignore_helper_columns_of_the_profile(ctx):
    segments = ctx.segments.assign(median_monetary=[2000.0, 50.0], monetary_z=[1.2, -0.8])
    page = render_report(dataclasses.replace(ctx, segments=segments))
    assert "Median monetary" not in page and "Monetary z" not in page
    assert "Monetary (total spend)" in _card(page, "Champions")

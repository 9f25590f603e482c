import pandas as pd

from src.columns import AMOUNT, CUSTOMER_ID, INVOICE_DATE
from src.insight.cohorts import cohort_retention
from src.insight.migration import migration_matrix
from src.viz.heatmaps import migration_heatmap, retention_heatmap


def test_retention_heatmap_annotates_every_observed_cell():
    # a buys in Dec, Jan and Feb; b in Dec and Feb; c in Jan and Feb; d in Jan only.
    rows = [
        ("a", "2010-12-01"),
        ("b", "2010-12-15"),
        ("a", "2011-01-10"),
        ("c", "2011-01-11"),
        ("d", "2011-01-31"),
        ("a", "2011-02-01"),
        ("b", "2011-02-28"),
        ("c", "2011-02-05"),
    ]
    tx = pd.DataFrame(rows, columns=[CUSTOMER_ID, INVOICE_DATE])
    tx[INVOICE_DATE] = pd.to_datetime(tx[INVOICE_DATE])
    tx[AMOUNT] = 1.0
    _, shares = cohort_retention(tx)
    fig = retention_heatmap(shares)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == shares.notna().to_numpy().sum()
    assert "100%" in texts and "50%" in texts


def test_migration_heatmap_marks_each_cell_with_share_and_count():
    before = pd.Series({"a": "Loyal", "b": "New", "c": "Lost", "d": "Loyal", "e": "New"})
    after = pd.Series({"a": "Loyal", "b": "Loyal", "c": "New", "e": "New", "f": "Champions"})
    counts, shares = migration_matrix(before, after)
    fig = migration_heatmap(counts, shares)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == shares.notna().to_numpy().sum()
    assert "100%\n(1)" in texts

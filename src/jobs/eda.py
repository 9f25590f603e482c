"""The exploratory job: monthly revenue, orders, top products, countries, order values and
cohort retention of a transaction log, logged to MLflow. No clustering."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from src.config.runtime import original_cwd
from src.errors import SegmentationError
from src.jobs import console


@dataclass(frozen=True)
class EdaRun:
    parent_run_id: str
    tables: dict[str, pd.DataFrame]
    figures: tuple[str, ...]


def run_eda(cfg: DictConfig) -> EdaRun:
    from src.data import log_customers, log_rows
    from src.data.prepare import load_clean
    from src.insight import cohorts, eda
    from src.jobs.segment import load_options
    from src.tracking import artifacts
    from src.tracking.tracker import Tracker, git_commit, resolve_tracking_uri
    from src.viz.eda import eda_figures
    from src.viz.heatmaps import retention_heatmap
    from src.viz.style import to_png

    options = load_options(cfg)
    name = options.experiment_name
    console.say(f"[{name}] loading dataset '{options.dataset.name}' ...")
    dataset, fingerprint, report = load_clean(options.dataset, options.cleaning, original_cwd())
    if dataset.transactions is None:
        raise SegmentationError(
            f"The eda job needs a transaction log; dataset '{options.dataset.name}' is a "
            "per-customer table. Pick a transaction dataset (e.g. dataset=online_retail)."
        )
    tx = dataset.transactions
    tables = eda.eda_tables(tx)
    figures = eda_figures(tables, eda.order_values(tx))
    counts, shares = cohorts.cohort_retention(tx)
    tables["cohort_counts"], tables["cohort_retention"] = counts, shares
    figures["cohort_retention"] = retention_heatmap(shares)
    pngs = {key: to_png(fig) for key, fig in figures.items()}
    monthly = tables["monthly_revenue"]
    customers, rows = log_customers(tx), log_rows(tx)
    metrics = {
        "revenue": float(monthly["revenue"].sum()),
        "orders": float(monthly["orders"].sum()),
        "customers": float(customers),
        "months": float(len(monthly)),
        "retention_month_1_mean": float(shares[1].mean()) if 1 in shares else float("nan"),
    }
    tracker = Tracker(resolve_tracking_uri(options.mlflow.tracking_uri), options.mlflow.experiment)
    tags = {
        "experiment": name,
        "dataset": options.dataset.name,
        "data_fingerprint": fingerprint,
        "git_commit": git_commit(),
        "job": "eda",
    }
    with tracker.parent_run(f"{name}-{options.dataset.name}", tags) as run_id:
        artifacts.log_eda(
            tracker, tables, pngs, metrics, OmegaConf.to_yaml(cfg, resolve=True), report
        )
        tracker.describe(
            f"Exploratory analysis of {options.dataset.name}: {rows:,} rows, "
            f"{customers:,} customers, {len(monthly)} months."
        )
    console.say(f"[{name}] {rows:,} rows, {customers:,} customers")
    console.say(monthly.to_string(index=False, max_rows=30))
    console.say(f"Logged {len(tables)} tables and {len(pngs)} figures to run {run_id}")
    console.say(f"Open the UI with: {tracker.run_url_hint()}")
    return EdaRun(run_id, tables, tuple(pngs))

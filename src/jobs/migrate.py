"""Segment migration: score the same customers with one model at two snapshot dates (features
use only the transactions before each date) and count who moved from which segment to which.

Like batch scoring, the model's data contract decides the dataset mapping and cleaning unless
the command line names others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from src.config.runtime import original_cwd
from src.config.schema import MigrateConfig
from src.errors import SegmentationError


@dataclass(frozen=True)
class Migration:
    before: pd.Timestamp
    after: pd.Timestamp
    customers: int  # present at both dates
    kept: int  # ... and in the same segment at both
    counts: pd.DataFrame  # from (rows) -> to (columns)
    shares: pd.DataFrame  # row shares of counts
    flows: pd.DataFrame  # per segment: before, after, stayed, new, gone
    figure: object  # matplotlib Figure of the heatmap


def migrate(cfg: DictConfig) -> Migration:
    from src.data.contract import DataContract
    from src.data.convert import parse_date_option
    from src.data.prepare import features_at, load_clean
    from src.insight.migration import entries_and_exits, migration_matrix
    from src.jobs.score import scoring_inputs
    from src.tracking.serving import load_segmentation_model
    from src.tracking.tracker import probe_tracking_store, resolve_tracking_uri
    from src.viz.heatmaps import migration_heatmap

    options: MigrateConfig = OmegaConf.to_object(cfg)
    before = parse_date_option(options.before, "before")  # bad dates fail before anything loads
    parse_date_option(options.after, "after")
    probe_tracking_store(resolve_tracking_uri(options.tracking_uri), writable=options.log_to_mlflow)
    model = load_segmentation_model(options.model_uri, options.tracking_uri)
    contract = DataContract.from_dict(model.contract)
    dataset_cfg, cleaning_cfg = scoring_inputs(options, contract)
    dataset, _, _ = load_clean(dataset_cfg, cleaning_cfg, original_cwd())
    if dataset.transactions is None:
        raise SegmentationError(
            f"Segment migration needs a transaction log to rebuild features at two dates; "
            f"dataset '{dataset.name}' is a per-customer table."
        )
    after_feats, after = features_at(dataset, contract.features, options.after)
    if before >= after:
        raise SegmentationError(
            f"before={before.date()} must be earlier than after={after.date()}."
        )
    before_feats, _ = features_at(dataset, contract.features, before)
    if before_feats.empty:
        raise SegmentationError(
            f"No customer bought anything before {before.date()}; pick a later `before` date."
        )
    seg_before = model.predict(before_feats)["segment_name"]
    seg_after = model.predict(after_feats)["segment_name"]
    counts, shares = migration_matrix(seg_before, seg_after)
    return Migration(
        before=before,
        after=after,
        # migration_matrix orders both axes alike, so the diagonal is "kept their segment".
        customers=int(counts.to_numpy().sum()),
        kept=int(np.trace(counts.to_numpy())),
        counts=counts,
        shares=shares,
        flows=entries_and_exits(seg_before, seg_after),
        figure=migration_heatmap(counts, shares),
    )


def write_migration(result: Migration, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"migration_{result.before.date()}_{result.after.date()}"
    paths = {
        "counts": folder / f"{stem}_counts.csv",
        "shares": folder / f"{stem}_shares.csv",
        "flows": folder / f"{stem}_new_and_gone.csv",
        "figure": folder / f"{stem}.png",
    }
    result.counts.to_csv(paths["counts"])
    result.shares.to_csv(paths["shares"])
    result.flows.to_csv(paths["flows"])
    result.figure.savefig(paths["figure"], dpi=110, bbox_inches="tight")
    return paths

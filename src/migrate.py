"""Segment migration: `python -m src.migrate before=2024-06-30 [after=...]`.

Scores the same customers with one model at two snapshot dates (features use only the
transactions before each date) and reports the transition matrix between segments.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from src.config import CONF_DIR, register_configs
from src.errors import SegmentationError, report_user_errors

register_configs()


def migrate(cfg: DictConfig) -> dict:
    import numpy as np

    from src.config.runtime import original_cwd
    from src.data.contract import DataContract
    from src.data.convert import parse_date_option
    from src.data.prepare import features_at, load_clean
    from src.insight.migration import entries_and_exits, migration_matrix
    from src.tracking.serving import load_segmentation_model
    from src.viz.heatmaps import migration_heatmap

    before = parse_date_option(cfg.before, "before")  # bad dates fail before anything loads
    parse_date_option(cfg.after, "after")
    model = load_segmentation_model(cfg.model_uri, cfg.tracking_uri)
    options = DataContract.from_dict(model.contract).features
    dataset, _, _ = load_clean(
        OmegaConf.to_object(cfg.dataset), OmegaConf.to_object(cfg.cleaning), original_cwd()
    )
    if dataset.transactions is None:
        raise SegmentationError(
            f"Segment migration needs a transaction log to rebuild features at two dates; "
            f"dataset '{dataset.name}' is a per-customer table."
        )
    after_feats, after = features_at(dataset, options, cfg.after)
    if before >= after:
        raise SegmentationError(
            f"before={before.date()} must be earlier than after={after.date()}."
        )
    before_feats, _ = features_at(dataset, options, before)
    if before_feats.empty:
        raise SegmentationError(
            f"No customer bought anything before {before.date()}; pick a later `before` date."
        )
    seg_before = model.predict(before_feats)["segment_name"]
    seg_after = model.predict(after_feats)["segment_name"]
    counts, shares = migration_matrix(seg_before, seg_after)
    flows = entries_and_exits(seg_before, seg_after)
    fig = migration_heatmap(counts, shares)
    return {
        # migration_matrix orders both axes alike, so the diagonal is "kept their segment".
        "customers": int(counts.to_numpy().sum()),
        "kept": int(np.trace(counts.to_numpy())),
        "before": before,
        "after": after,
        "counts": counts,
        "shares": shares,
        "flows": flows,
        "figure": fig,
    }


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="migrate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from src.config.runtime import original_cwd

    result = migrate(cfg)
    out = original_cwd() / cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)
    stem = f"migration_{result['before'].date()}_{result['after'].date()}"
    paths = {
        "counts": out / f"{stem}_counts.csv",
        "shares": out / f"{stem}_shares.csv",
        "flows": out / f"{stem}_new_and_gone.csv",
        "figure": out / f"{stem}.png",
    }
    result["counts"].to_csv(paths["counts"])
    result["shares"].to_csv(paths["shares"])
    result["flows"].to_csv(paths["flows"])
    result["figure"].savefig(paths["figure"], dpi=110, bbox_inches="tight")
    counts = result["counts"]
    stayed, total = result["kept"], result["customers"]
    print(
        f"Segments {result['before'].date()} -> {result['after'].date()}: {total:,} customers "
        f"present at both dates, {stayed:,} ({stayed / max(total, 1):.1%}) kept their segment."
    )
    print(counts.to_string())
    for p in paths.values():
        print(f"  wrote {p}")
    if cfg.log_to_mlflow:
        from src.tracking.artifacts import log_migration

        run_id = log_migration(cfg.tracking_uri, cfg.model_uri, result, paths)
        print(f"  logged to MLflow run {run_id} (experiment 'segment-migration')")


if __name__ == "__main__":
    main()

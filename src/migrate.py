"""Segment migration: `python -m src.migrate before=2024-06-30 [after=...]` (see src.jobs.migrate)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.config import CONF_DIR, register_configs
from src.errors import report_user_errors

register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="migrate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from src.config.runtime import original_cwd
    from src.jobs.migrate import migrate, write_migration

    result = migrate(cfg)
    paths = write_migration(result, original_cwd() / cfg.output_dir)
    stayed, total = result.kept, result.customers
    print(
        f"Segments {result.before.date()} -> {result.after.date()}: {total:,} customers "
        f"present at both dates, {stayed:,} ({stayed / max(total, 1):.1%}) kept their segment."
    )
    print(result.counts.to_string())
    for p in paths.values():
        print(f"  wrote {p}")
    if cfg.log_to_mlflow:
        from src.tracking.artifacts import log_migration
        from src.tracking.tracker import Tracker, resolve_tracking_uri

        tracker = Tracker(resolve_tracking_uri(cfg.tracking_uri), "segment-migration")
        run_id = log_migration(tracker, cfg.model_uri, result, paths)
        print(f"  logged to MLflow run {run_id} (experiment 'segment-migration')")


if __name__ == "__main__":
    main()

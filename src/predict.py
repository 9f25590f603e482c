"""Batch scoring: `python -m src.predict dataset=online_retail output=segments.parquet`.

Loads a registered model (default `models:/customer-segmentation@champion`), rebuilds the
features of a dataset the way the model's data contract says (see ``src.jobs.score``), and
writes a CRM-ready export, one row per customer: `customer_id, segment_id, segment_name,
recommended_actions` (the segment's playbook, joined by " | "), `distance_to_centre`, the
feature values, `snapshot_date`, `model_name` and `model_version`, as CSV or Parquet.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.config import CONF_DIR, register_configs
from src.errors import report_user_errors

register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="predict")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from src.config.runtime import original_cwd
    from src.jobs import score

    out = score.check_output(original_cwd() / cfg.output)
    scored = score.score(cfg)
    scores = scored.scores
    for warning in scored.warnings:
        print(f"warning: {warning}")
    score.write_table(scores, out)
    counts = scores.groupby("segment_name").size().sort_values(ascending=False)
    snapshot = "" if scored.snapshot is None else f" as of {scored.snapshot.date()}"
    print(f"Scored {len(scores):,} customers{snapshot} with {cfg.model_uri} -> {out}")
    for name, n in counts.items():
        print(f"    {name:<34} {n:>9,} ({n / len(scores):.1%})")
    if cfg.recommendations > 0:
        recs = score.recommendations(scored, cfg.recommendations)
        rec_path = score.write_table(recs, out.with_name(f"{out.stem}_recommendations{out.suffix}"))
        print(f"Product recommendations ({cfg.recommendations} per customer) -> {rec_path}")
    if cfg.log_to_mlflow:
        run_id = score.log_scoring(scored, out)
        print(f"Logged to MLflow run {run_id} (experiment 'segment-scoring')")


if __name__ == "__main__":
    main()

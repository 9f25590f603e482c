"""Compare two model versions: `python -m src.compare model_a=models:/m/1 model_b=models:/m/2`.

Scores one dataset with both models (each through its own data contract's features) and reports
how far they agree (adjusted Rand index), which segment of A becomes which segment of B, and the
difference of their metrics; see ``src.jobs.compare``.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.config import CONF_DIR, register_configs
from src.errors import report_user_errors

register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="compare")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from src.config.runtime import original_cwd
    from src.jobs.compare import compare, log_comparison, write_comparison

    result = compare(cfg)
    print(
        f"{result.name_a} v{result.version_a} vs {result.name_b} v{result.version_b} on "
        f"{result.customers:,} customers of {result.dataset}: adjusted Rand index "
        f"{result.ari:.3f}, {result.same_segment:.1%} of customers in corresponding segments."
    )
    print("\nWhere the customers of each segment of A go in B (share of A's segment):")
    print(result.mapping.to_string(float_format=lambda v: f"{v:.1%}"))
    print("\nMetrics (each model judged in the evaluation space of its own features):")
    print(result.metrics.to_string(float_format=lambda v: f"{v:.4g}"))
    for path in write_comparison(result, original_cwd() / cfg.output_dir).values():
        print(f"  wrote {path}")
    if cfg.log_to_mlflow:
        run_id = log_comparison(result, cfg.tracking_uri)
        print(f"  logged to MLflow run {run_id} (experiment 'segment-comparison')")


if __name__ == "__main__":
    main()

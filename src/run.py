"""Entry point: `python -m src.run +experiment=lrfmc` runs one tracked segmentation sweep.

Heavy libraries (mlflow, optuna, scikit-learn) are imported only once a job runs, so `--help`
and config errors answer at once.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.config import CONF_DIR, register_configs
from src.errors import report_user_errors

register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from src.jobs import run_job

    run_job(cfg)


if __name__ == "__main__":
    main()

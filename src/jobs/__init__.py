"""One flat function per job, read top to bottom: segment, eda, score, migrate."""

from __future__ import annotations

from omegaconf import DictConfig


def run_job(cfg: DictConfig):
    """``python -m src.run``: the job the config names, with the configured BLAS threads."""
    # threadpoolctl limits only the libraries already loaded: load numpy's and scipy's BLAS and
    # scikit-learn's OpenMP runtime first, or the fits below would use every core.
    import sklearn.cluster
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(int(cfg.threads)):
        if cfg.job == "eda" or getattr(cfg.job, "value", None) == "eda":
            from src.jobs.eda import run_eda

            return run_eda(cfg)
        from src.jobs.segment import run_segmentation

        return run_segmentation(cfg)

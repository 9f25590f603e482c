"""Build the outlier -> scaler -> clusterer Pipeline from `_target_` configs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from sklearn.pipeline import Pipeline

from src.errors import SegmentationError

SWEPT_GROUPS = ("outliers", "scaler", "model")
# Estimators whose cluster count is not called n_clusters.
_K_PARAMS = {"sklearn.mixture.GaussianMixture": "n_components"}


def k_param(model_cfg: Mapping[str, Any]) -> str:
    return _K_PARAMS.get(str(model_cfg["_target_"]), "n_clusters")


def build_pipeline(
    outliers_cfg: Mapping[str, Any],
    scaler_cfg: Mapping[str, Any],
    model_cfg: Mapping[str, Any],
    k: int,
) -> Pipeline:
    """One Pipeline per trial; the cluster count is set on whichever parameter the model uses."""
    model_kwargs = {k_param(model_cfg): int(k)}
    try:
        steps = [
            ("outliers", instantiate(outliers_cfg, _convert_="all")),
            ("scaler", instantiate(scaler_cfg, _convert_="all")),
            ("model", instantiate(model_cfg, _convert_="all", **model_kwargs)),
        ]
    except Exception as exc:  # instantiate wraps import and argument errors
        raise SegmentationError(
            f"Could not build the pipeline from config ({exc}). Check the `_target_` and the "
            "argument names in conf/outliers, conf/scaler and conf/model."
        ) from exc
    return Pipeline(steps)


def describe_pipeline(choice: Mapping[str, Any]) -> str:
    return f"{choice['outliers']} + {choice['scaler']} + {choice['model']} (k={choice['k']})"

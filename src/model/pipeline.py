"""Build the outlier -> scaler -> clusterer Pipeline from `_target_` configs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from sklearn.pipeline import Pipeline

from src.errors import SegmentationError

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


def fitted_params(pipeline: Pipeline) -> dict[str, Any]:
    """What each step of a pipeline really is: ``{"model.class": "sklearn.cluster.KMeans",
    "model.n_clusters": 6, "model.random_state": 42, ...}``, read back from the estimators.

    These are the values that were fitted (k set, interpolations resolved), unlike the YAML the
    options came from.
    """
    params: dict[str, Any] = {}
    for name, step in pipeline.steps:
        kind = type(step)
        # The public module, as a _target_ names it: sklearn.cluster, not sklearn.cluster._kmeans.
        public = kind.__module__.split("._")[0]
        params[f"{name}.class"] = f"{public}.{kind.__qualname__}"
        for key, value in sorted(step.get_params(deep=False).items()):
            params[f"{name}.{key}"] = (
                value
                if isinstance(value, bool | int | float | str) or value is None
                else repr(value)
            )
    return params

"""Models registered before the package move (model format 1), read without their code.

Those models are a joblib pickle of ``src.pipeline.SegmentationModel`` (with
``src.transformers.*`` / ``src.clusterers.*`` steps) beside a cloudpickled
``src.tracking.SegmentationPyfunc``. Neither old module path exists any more, and no shim
files are kept there: the joblib pickle is read with an unpickler that maps the old module
paths to today's and resolves only an allow-list of globals (scikit-learn estimators, the
project's estimators, numpy's array and dtype reconstructors, joblib's array wrapper), so a
pickle that names anything else (``os.system``, ``builtins.eval``, ...) is refused before it
runs. The cloudpickled wrapper is never unpickled. The result is converted to today's
``SegmentationModel``; its data contract is rebuilt from the training run's resolved config.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from src.errors import SegmentationError

LEGACY_ARTIFACT = "segmentation_model"
LEGACY_CONFIG = "config/resolved_config.yaml"

# Old module -> today's module.
MODULE_ALIASES = {
    "src.pipeline": "src.model.segmentation",
    "src.transformers": "src.model.transformers",
    "src.clusterers": "src.model.clusterers",
}

# Globals a legacy pickle may name besides scikit-learn / project estimator classes.
_ALLOWED_GLOBALS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("sklearn.tree._tree", "Tree"),
    ("sklearn.cluster._birch", "_CFNode"),
    ("sklearn.cluster._birch", "_CFSubcluster"),
}
_ESTIMATOR_MODULES = ("sklearn.", "src.model.")


class LegacyState:
    """What the old ``SegmentationModel`` pickled (its ``__dict__``), as plain attributes."""


def is_legacy_layout(pyfunc_conf: dict[str, Any]) -> bool:
    """A format-1 model: a cloudpickled python_model beside a joblib ``segmentation_model``."""
    artifacts = pyfunc_conf.get("artifacts") or {}
    path = str((artifacts.get(LEGACY_ARTIFACT) or {}).get("path", ""))
    return "python_model" in pyfunc_conf and path.endswith(".joblib")


def _resolve(module: str, name: str) -> Any:
    """The global a legacy pickle names, if it is on the allow-list (else an error)."""
    if (module, name) == ("src.pipeline", "SegmentationModel"):
        return LegacyState
    target = MODULE_ALIASES.get(module, module)
    listed = (target, name) in _ALLOWED_GLOBALS
    if not listed and not target.startswith((*_ESTIMATOR_MODULES, "numpy.dtypes")):
        raise SegmentationError(_refused(module, name))
    try:
        obj = getattr(importlib.import_module(target), name)
    except (ImportError, AttributeError):
        raise SegmentationError(
            f"The legacy model refers to {module}.{name}, which this code does not have."
        ) from None
    from sklearn.base import BaseEstimator

    if listed or (
        isinstance(obj, type)
        and (issubclass(obj, BaseEstimator) or target.startswith("numpy.dtypes"))
    ):
        return obj
    raise SegmentationError(_refused(module, name))


def _unpickler_class():
    import joblib.numpy_pickle as npk

    class LegacyUnpickler(npk.NumpyUnpickler):
        def find_class(self, module: str, name: str):
            return _resolve(module, name)

    return LegacyUnpickler


def _refused(module: str, name: str) -> str:
    return (
        f"The legacy model's pickle names {module}.{name}, which a segmentation model never "
        "contains; not loaded (a crafted artifact would run it). Treat the model store as "
        "compromised."
    )


def read_legacy_pickle(path: Path) -> LegacyState:
    """The old model's state from its joblib file, through the restricted unpickler."""
    import joblib.numpy_pickle as npk

    path = Path(path)
    try:
        with (
            open(path, "rb") as f,
            # joblib's own file check: detects compression and the pre-0.10 layout.
            npk._validate_fileobject_and_memmap(f, str(path), None) as (fobj, _),
        ):
            if isinstance(fobj, str):
                raise SegmentationError(f"{path} is a joblib file older than joblib 0.10.")
            state = _unpickler_class()(str(path), fobj, True).load()
    except (OSError, EOFError, pickle.UnpicklingError) as exc:
        raise SegmentationError(f"Could not read the legacy model {path} ({exc}).") from None
    if not isinstance(state, LegacyState):
        raise SegmentationError(
            f"{path} holds a {type(state).__name__}, not a segmentation model of this project."
        )
    return state


def legacy_contract(
    feature_options: dict[str, str], run_config: dict[str, Any] | None, fingerprint: str
):
    """Today's data-contract dict for a format-1 model.

    The old model knew only its feature definition; dataset, cleaning rules and snapshot come
    from the resolved config its training run logged. Without that config the contract says
    so instead of guessing.
    """
    from omegaconf import OmegaConf

    from src.config.schema import CleaningConfig, DatasetConfig, FeaturesConfig
    from src.data.contract import DataContract

    if run_config is None:
        raise SegmentationError(
            "This model predates the package move and its training run's resolved config "
            f"({LEGACY_CONFIG}) is not available, so its data contract cannot be rebuilt. "
            "Score it from the store it was trained in, or retrain it."
        )

    def typed(schema, values):
        # A key today's schema no longer has cannot be represented; it is left out.
        known = {k: v for k, v in (values or {}).items() if k in schema.__dataclass_fields__}
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), known))

    try:
        contract = DataContract(
            dataset=typed(DatasetConfig, run_config.get("dataset")),
            cleaning=typed(CleaningConfig, run_config.get("cleaning")),
            features=typed(FeaturesConfig, feature_options),
            snapshot_date=run_config.get("snapshot_date"),
            fingerprint=fingerprint,
        )
    except Exception as exc:  # omegaconf raises several validation errors
        raise SegmentationError(
            f"The training config of this pre-move model does not fit today's schema ({exc})."
        ) from None
    return contract.to_dict()


def upgrade(state: LegacyState, contract: dict[str, Any]):
    """Today's SegmentationModel with the old model's pipeline, ids, centres and names."""
    from src.model.segmentation import SegmentationModel

    try:
        model = SegmentationModel(state.pipeline, state.feature_names)
        model.order_ = np.asarray(state.order_, dtype=np.intp)
        model.centres_ = np.asarray(state.centres_, dtype="float64")
        model.segment_names = {int(k): str(v) for k, v in state.segment_names.items()}
    except AttributeError as exc:
        raise SegmentationError(f"The legacy model lacks part of its state ({exc}).") from None
    model.contract = contract
    return model

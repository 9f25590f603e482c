"""The data contract a model carries: how its training data was read, cleaned and turned into
features, so production scoring rebuilds the same features the same way by default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from src.config.schema import CleaningConfig, DatasetConfig, FeaturesConfig


@dataclass(frozen=True)
class DataContract:
    """Dataset config (column mapping, formats, where it came from), cleaning rules, feature
    definition and the snapshot rule a model was trained with, plus the training data's
    fingerprint. ``snapshot_date`` is the explicit training snapshot, or None for the default
    rule (midnight after the last transaction)."""

    dataset: DatasetConfig
    cleaning: CleaningConfig
    features: FeaturesConfig
    snapshot_date: str | None
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (enums as their names), for the model artifact."""
        return {
            "dataset": _plain(self.dataset),
            "cleaning": _plain(self.cleaning),
            "features": _plain(self.features),
            "snapshot_date": self.snapshot_date,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DataContract:
        return cls(
            dataset=_typed(DatasetConfig, values["dataset"]),
            cleaning=_typed(CleaningConfig, values["cleaning"]),
            features=_typed(FeaturesConfig, values["features"]),
            snapshot_date=values.get("snapshot_date"),
            fingerprint=values["fingerprint"],
        )


def _plain(node: Any) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(node), enum_to_str=True)


def _typed(schema: type, values: dict[str, Any]):
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))

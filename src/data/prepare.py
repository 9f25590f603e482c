"""Data preparation shared by training, batch scoring and segment migration.

Training and production go through the same load -> clean -> features path, so a customer
gets the same features whichever entry point scores it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from src.config.schema import CleaningConfig, DatasetConfig, FeaturesConfig
from src.errors import SegmentationError

MIN_CUSTOMERS = 10


@dataclass
class Prepared:
    """The loaded data, its cleaning report and the customer feature table."""

    dataset: Any
    transactions: pd.DataFrame | None
    cleaning: Any
    features: pd.DataFrame
    fingerprint: str
    snapshot: pd.Timestamp | None


def data_fingerprint(dataset) -> str:
    """A hash of the input data before cleaning, so models are compared on the same data."""
    frame = dataset.transactions if dataset.transactions is not None else dataset.customers
    hashed = pd.util.hash_pandas_object(frame, index=dataset.transactions is None)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]


def load_clean(
    dataset_cfg: DatasetConfig, cleaning_cfg: CleaningConfig, base_dir: Path | None = None
):
    """Load a dataset and clean its transaction log; returns (dataset, fingerprint, report)."""
    from src.data.cleaning import clean_transactions
    from src.data.load import load_dataset

    dataset = load_dataset(dataset_cfg, base_dir=base_dir)
    fingerprint = data_fingerprint(dataset)
    report = None
    if dataset.kind == "transactions":
        dataset.transactions, report = clean_transactions(dataset.transactions, cleaning_cfg)
    return dataset, fingerprint, report


def features_at(
    dataset, features_cfg: FeaturesConfig, snapshot: str | pd.Timestamp | None
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Customer features as of ``snapshot`` and the snapshot they were computed at.

    ``snapshot`` None: the default rule (``features.default_snapshot`` of the cleaned log; a
    summary's latest ``data_pulled_date``).
    """
    from src.data.features import build_features, default_snapshot

    snap = pd.Timestamp(snapshot) if snapshot else None
    features = build_features(dataset, features_cfg, snapshot_date=snap)
    if snap is None and dataset.transactions is not None:
        snap = default_snapshot(dataset.transactions)
    elif snap is None and dataset.snapshot_date is not None:
        snap = pd.Timestamp(dataset.snapshot_date)
    return features, snap


def prepare_data(
    dataset_cfg: DatasetConfig,
    cleaning_cfg: CleaningConfig,
    features_cfg: FeaturesConfig,
    snapshot: str | pd.Timestamp | None = None,
    base_dir: Path | None = None,
) -> Prepared:
    dataset, fingerprint, report = load_clean(dataset_cfg, cleaning_cfg, base_dir)
    features, snap = features_at(dataset, features_cfg, snapshot)
    if len(features) < MIN_CUSTOMERS:
        raise SegmentationError(
            f"Only {len(features)} customer(s) have features (dataset '{dataset.name}', "
            f"snapshot {snap}); segmentation needs at least {MIN_CUSTOMERS}. Check the cleaning "
            "report, the snapshot date and the dataset."
        )
    return Prepared(dataset, dataset.transactions, report, features, fingerprint, snap)

"""Data preparation shared by training, batch scoring and segment migration.

Training and production go through the same load -> clean -> features path, so a customer
gets the same features whichever entry point scores it. Reading, cleaning (with its counts)
and the data fingerprint are one polars query over the source; the features are a second one
over the cleaned log in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from src.config.schema import CleaningConfig, DatasetConfig, FeaturesConfig
from src.errors import SegmentationError

MIN_CUSTOMERS = 10
_FINGERPRINT_SEED = 20_240_101


@dataclass
class Prepared:
    """The loaded data, its cleaning report and the customer feature table."""

    dataset: Any
    transactions: pl.DataFrame | None
    cleaning: Any
    features: pd.DataFrame
    fingerprint: str
    snapshot: pd.Timestamp | None
    warnings: list[str] = field(default_factory=list)


def row_hashes(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One hash per row (all columns, fixed seed), in row order: what the fingerprint digests."""
    return frame.select(pl.struct(pl.all()).hash(seed=_FINGERPRINT_SEED).alias("hash"))


def fingerprint_of(hashes: pl.DataFrame | pl.Series) -> str:
    values = hashes.to_series() if isinstance(hashes, pl.DataFrame) else hashes
    return hashlib.sha256(values.to_numpy().tobytes()).hexdigest()[:16]


def data_fingerprint(dataset) -> str:
    """A hash of the input data before cleaning, so models are compared on the same data."""
    if dataset.transactions is not None:
        return fingerprint_of(row_hashes(dataset.transactions.lazy()).collect())
    customers = pl.from_pandas(dataset.customers.reset_index())
    return fingerprint_of(row_hashes(customers.lazy()).collect())


def load_clean(
    dataset_cfg: DatasetConfig, cleaning_cfg: CleaningConfig, base_dir: Path | None = None
):
    """Load a dataset and clean its transaction log; returns (dataset, fingerprint, report).

    For a log, the read, the cleaning rules with their counts and the fingerprint of the raw
    lines are one query; ``dataset.transactions`` is then the cleaned log.
    """
    from src.data.cleaning import plan_cleaning
    from src.data.load import open_dataset

    dataset = open_dataset(dataset_cfg, base_dir=base_dir)
    if dataset.log is None:
        return dataset, data_fingerprint(dataset), None
    plans = []

    def build(frame: pl.LazyFrame) -> list[pl.LazyFrame]:
        plans.append(plan_cleaning(frame, cleaning_cfg))
        return [plans[-1].cleaned, row_hashes(frame), *plans[-1].counts]

    cleaned, hashes, *counts = dataset.log.collect(build)
    report = plans[-1].report(counts)
    dataset.transactions = cleaned
    return dataset, fingerprint_of(hashes), report


def features_at(
    dataset, features_cfg: FeaturesConfig, snapshot: str | pd.Timestamp | None
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Customer features as of ``snapshot`` and the snapshot they were computed at.

    ``snapshot`` None: the default rule (``features.default_snapshot`` of the cleaned log; a
    summary's latest ``data_pulled_date``).
    """
    from src.data.features import build_features, finish_features, plan_features

    snap = pd.Timestamp(snapshot) if snapshot else None
    if dataset.kind == "transactions":
        plan = plan_features(dataset.transactions.lazy(), features_cfg, snap)
        aggregates, last = pl.collect_all([plan.aggregates, plan.last_date])
        return finish_features(plan, aggregates, last)
    features = build_features(dataset, features_cfg, snapshot_date=snap)
    if snap is None and dataset.snapshot_date is not None:
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

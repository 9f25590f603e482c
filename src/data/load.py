"""Load the dataset a ``DatasetConfig`` describes: dispatch on ``dataset.type``, resolve paths,
download a missing file when a ``url`` is given.

``open_dataset`` leaves a transaction log unread: its ``log`` is a lazy query (``LogScan`` for
files, ``InMemoryLog`` for the synthetic shop) that cleaning and features extend before anything
is read. ``load_dataset`` also reads the raw log into ``transactions``.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import polars as pl

from src import columns as schema
from src.config.schema import DatasetConfig, DatasetType, SyntheticOutput
from src.data.convert import as_mapping, plain_value
from src.data.dataset import Dataset
from src.data.options import typed_options
from src.data.readers import (
    canonical_summary,
    collect,
    read_customer_summary,
    read_feature_table,
    read_table,
    scan_transactions,
    source,
)
from src.errors import SegmentationError

DATA_DIR_ENV = "SEGMENTATION_DATA_DIR"


@dataclass
class InMemoryLog:
    """A log already in memory, with the same ``frame``/``read``/``run`` interface as
    ``LogScan`` (and no conversion checks: it is canonical already)."""

    data: pl.DataFrame

    @property
    def frame(self) -> pl.LazyFrame:
        return self.data.lazy()

    def read(self, **kwargs) -> pl.DataFrame:
        return self.data

    rescans_cheaply = True  # in memory already

    def lines(self) -> int:
        return self.data.height

    def may_have(self, lines: int) -> bool:
        return self.data.height >= lines

    def run(self, query: Callable[[pl.LazyFrame], pl.LazyFrame], keys=(), **kwargs):
        return collect(query(self.frame), **kwargs)

    def run_parts(self, query, parts: int, keys=(), done=None, **kwargs):
        results = []
        for part in range(parts):
            results.append(collect(query(self.frame, part), **kwargs))
            if done is not None:
                done(part)
        return results


def dataset_config(cfg: DatasetConfig | Mapping) -> DatasetConfig:
    """A ``DatasetConfig`` from a mapping shaped like the YAML (notebooks, tests), typed and checked."""
    if isinstance(cfg, Mapping) and not cfg.get("name"):
        cfg = {**cfg, "name": plain_value(cfg.get("type")) or "dataset"}
    return typed_options(DatasetConfig, cfg, "dataset")


def open_dataset(cfg: DatasetConfig | Mapping, base_dir: str | Path | None = None) -> Dataset:
    """The dataset ``cfg`` describes, its log (if any) not read yet (``Dataset.log``)."""
    cfg = dataset_config(cfg)
    name = cfg.name
    if cfg.type is DatasetType.synthetic:
        return _load_synthetic(cfg, name)
    path = resolve_path(cfg.path, base_dir, url=cfg.url, name=name)
    src = source(path, cfg.format, cfg.delimiter, cfg.sheet)
    columns = as_mapping(cfg.columns)
    truth = _ground_truth(cfg, base_dir)
    if cfg.type is DatasetType.transactions:
        log = scan_transactions(src, columns, date_format=cfg.date_format)
        return Dataset(
            name=name, kind="transactions", source=str(path), log=log, ground_truth=truth
        )
    if cfg.type is DatasetType.summary:
        customers = read_customer_summary(
            path, columns, cfg.date_format, cfg.format, cfg.delimiter, cfg.sheet
        )
        return Dataset(
            name=name,
            kind="summary",
            source=str(path),
            customers=customers,
            ground_truth=truth,
            snapshot_date=customers[schema.DATA_PULLED_DATE].max(),
        )
    customers = read_feature_table(path, columns, cfg.format, cfg.delimiter, cfg.sheet)
    return Dataset(
        name=name, kind="features", source=str(path), customers=customers, ground_truth=truth
    )


def _ground_truth(cfg: DatasetConfig, base_dir: str | Path | None):
    """The planted segments of ``dataset.labels``: a Series indexed by customer id, or None."""
    if not cfg.labels:
        return None
    path = resolve_path(cfg.labels, base_dir, name=f"{cfg.name} labels")
    table = read_table(source(path), ["customer_id", "segment"], "the labels file (dataset.labels)")
    ids = table["customer_id"].cast(pl.String).to_list()
    return pd.Series(
        table["segment"].to_list(),
        index=pd.Index(ids, dtype="str", name=schema.CUSTOMER_ID),
        name="segment",
    )


def load_dataset(cfg: DatasetConfig | Mapping, base_dir: str | Path | None = None) -> Dataset:
    """Load the dataset ``cfg`` describes; relative paths are resolved against ``base_dir``."""
    dataset = open_dataset(cfg, base_dir)
    if dataset.log is not None and dataset.transactions is None:
        dataset.transactions = dataset.log.read()
    return dataset


def _load_synthetic(cfg: DatasetConfig, name: str) -> Dataset:
    from src.data.synthetic import generate_transactions, to_customer_summary

    data = generate_transactions(
        n_customers=cfg.n_customers,
        seed=cfg.seed,
        start=cfg.start,
        end=cfg.end,
        dirty=cfg.dirty,
        segment_shares=dict(cfg.segment_shares) or None,
    )
    source_name = f"synthetic(n_customers={cfg.n_customers}, seed={cfg.seed})"
    if cfg.output is SyntheticOutput.transactions:
        return Dataset(
            name=name,
            kind="transactions",
            source=source_name,
            transactions=data.transactions,
            ground_truth=data.labels,
            log=InMemoryLog(data.transactions),
        )
    summary = to_customer_summary(data.transactions, data.snapshot_date)
    customers = canonical_summary(pl.from_pandas(summary), {}, None, source_name)
    return Dataset(
        name=name,
        kind="summary",
        source=source_name,
        customers=customers,
        ground_truth=data.labels,
        snapshot_date=customers[schema.DATA_PULLED_DATE].max(),
    )


def resolve_path(
    path: str | Path | None,
    base_dir: str | Path | None = None,
    url: str | None = None,
    name: str = "dataset",
) -> Path:
    """Resolve a relative path against ``base_dir``; download ``url`` only if the file is missing.

    ``path`` may also be a folder of files or a glob pattern (``/data/orders/*.parquet``).
    """
    if path is None or str(path) in ("", "???"):
        raise SegmentationError(
            f"dataset {name!r} has no file path. Pass one on the command line, e.g. "
            "dataset.path=/data/orders.csv (relative paths are resolved against the project "
            "folder)."
        )
    resolved = Path(os.path.expanduser(str(path)))
    if not resolved.is_absolute():
        resolved = Path(base_dir or Path.cwd()) / resolved
    if resolved.exists() or _is_glob(resolved):
        return resolved
    if url:
        _download(url, resolved)
        return resolved
    raise SegmentationError(
        f"dataset file not found: {resolved} (dataset {name!r}, dataset.path={str(path)!r}). "
        f"Put the file there, set the environment variable {DATA_DIR_ENV} to the folder that "
        "holds the shared data files, or point to the file with dataset.path=/path/to/file."
    )


def _is_glob(path: Path) -> bool:
    import glob

    return glob.has_magic(str(path))


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        urllib.request.urlretrieve(url, partial)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise SegmentationError(
            f"dataset file {target} is missing and downloading it from {url} failed ({exc}). "
            f"Download it by hand to that path, set {DATA_DIR_ENV} to a folder that holds it, "
            "or point to a local copy with dataset.path=/path/to/file."
        ) from exc
    partial.replace(target)

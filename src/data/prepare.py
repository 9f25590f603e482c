"""Data preparation shared by training, batch scoring and segment migration.

Training and production go through the same load -> clean -> features path, so a customer
gets the same features whichever entry point scores it. Reading, cleaning (with its counts)
and the data fingerprint are one polars query over the source; the features are a second one
over the cleaned log in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from src.columns import CUSTOMER_ID, INVOICE_DATE
from src.config.schema import CleaningConfig, DatasetConfig, Engine, FeaturesConfig
from src.data.convert import parse_date_option
from src.data.features import feature_warnings
from src.errors import SegmentationError

MIN_CUSTOMERS = 10
_FINGERPRINT_SEED = 20_240_101
# ``customer_table`` splits a log of more lines than this into customer partitions, one pass
# each: a pass holds state in proportion to its lines (about 130 bytes a line with the default
# cleaning and LRFMC: each line's hash for the duplicates rule, the lines of products with a
# cancellation, one group per order): 10M customers, 191M lines in 10 parts, peaked at 3.6 GB.
LINES_PER_PARTITION = 20_000_000
_PARTITION_SEED = 20_240_103


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
    dataset_cfg: DatasetConfig,
    cleaning_cfg: CleaningConfig,
    base_dir: Path | None = None,
    columns: Collection[str] | None = None,
):
    """Load a dataset and clean its transaction log; returns (dataset, fingerprint, report).

    For a log, the fingerprint of the raw lines, the cleaning counts and the cleaned log are
    queries on the source, collected together by the streaming engine: of a Parquet log only
    the cleaned log is held in memory, never the raw log or its flags (1M customers, 19M lines:
    3.3 GB peak instead of 6.9 GB, the cleaning's passes each reading the file again). A CSV or
    workbook is parsed once into memory instead, as parsing it again costs more than it saves.
    ``dataset.transactions`` is the cleaned log, with only ``columns`` of it (None: all).
    """
    from src.data.cleaning import flag_rules
    from src.data.load import InMemoryLog, open_dataset
    from src.data.readers import bad_columns

    dataset = open_dataset(dataset_cfg, base_dir=base_dir)
    if dataset.log is None:
        return dataset, data_fingerprint(dataset), None
    log = dataset.log if dataset.log.rescans_cheaply else InMemoryLog(dataset.log.read())
    flagged_logs = []

    def query(frame: pl.LazyFrame) -> list[pl.LazyFrame]:
        checks = bad_columns(frame)
        lines = frame.drop([c.meta.output_name() for c in checks])
        flagged = flag_rules(lines, cleaning_cfg, separate=True)
        flagged_logs.append(flagged)
        sums = [frame.select(c.sum() for c in checks)] if checks else []
        return [*flagged.outputs(columns), row_hashes(lines), *sums]

    # The cleaned log is held, and the log (Parquet or in memory) is cheap to read again: its
    # queries each read it rather than share a cached copy (``readers.SEPARATE_PLANS``).
    cleaned, counts, hashes, *_ = log.run(query, engine="streaming", separate=True)
    report = flagged_logs[-1].report(counts.row(0, named=True))
    dataset.transactions = cleaned
    return dataset, fingerprint_of(hashes), report


def features_at(
    dataset, features_cfg: FeaturesConfig, snapshot: str | pd.Timestamp | None
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Customer features as of ``snapshot`` and the snapshot they were computed at.

    ``snapshot`` None: the default rule (``features.choose_snapshot`` on the cleaned log; a
    summary's latest ``data_pulled_date``).
    """
    if dataset.kind == "transactions":
        result = snapshot_features(dataset, features_cfg, snapshot)
        return result.table, result.snapshot
    from src.data.features import build_features

    snap = parse_date_option(snapshot)
    features = build_features(dataset, features_cfg, snapshot_date=snap)
    if snap is None and dataset.snapshot_date is not None:
        snap = pd.Timestamp(dataset.snapshot_date)
    return features, snap


def snapshot_features(dataset, features_cfg: FeaturesConfig, snapshot):
    """``features.log_features`` of a dataset's cleaned log in memory."""
    from src.data.features import log_features

    return log_features(dataset.transactions, features_cfg, snapshot)


def prepare_data(
    dataset_cfg: DatasetConfig,
    cleaning_cfg: CleaningConfig,
    features_cfg: FeaturesConfig,
    snapshot: str | pd.Timestamp | None = None,
    base_dir: Path | None = None,
    columns: Collection[str] | None = None,
) -> Prepared:
    """Load, clean and build features for a job. With ``dataset.engine=spark`` only the
    per-customer table comes back from Spark (``transactions`` is None: no product picks).

    ``columns``: the cleaned log's columns the job reads after the features (None: all); the
    features' own inputs are kept until they are built, then let go, so a log of millions of
    lines does not hold prices, countries and dates nothing reads any more."""
    if dataset_cfg.engine is Engine.spark:
        from src.data.dataset import Dataset

        table = customer_table(dataset_cfg, cleaning_cfg, features_cfg, snapshot, base_dir)
        where = dataset_cfg.table or str(dataset_cfg.path)
        dataset = Dataset(dataset_cfg.name, "transactions", f"spark:{where}")
        _check_enough(table.features, dataset.name, table.snapshot)
        return Prepared(
            dataset,
            None,
            table.cleaning,
            table.features,
            table.fingerprint,
            table.snapshot,
            list(table.warnings),
        )
    loaded = columns
    if columns is not None:
        from src.data.features import FEATURE_INPUTS

        loaded = {*columns, *FEATURE_INPUTS}
    dataset, fingerprint, report = load_clean(dataset_cfg, cleaning_cfg, base_dir, loaded)
    if dataset.kind != "transactions":
        features, snap = features_at(dataset, features_cfg, snapshot)
        _check_enough(features, dataset.name, snap)
        warnings = feature_warnings(features, dataset.kind)
        return Prepared(dataset, None, report, features, fingerprint, snap, warnings)
    result = snapshot_features(dataset, features_cfg, snapshot)
    _check_enough(result.table, dataset.name, result.snapshot)
    if result.ignored:  # the log as it stood at the snapshot, like the features
        dataset.transactions = dataset.transactions.filter(
            pl.col(INVOICE_DATE) < result.snapshot.to_pydatetime()
        )
    if columns is not None:
        tx = dataset.transactions
        dataset.transactions = tx.select(c for c in tx.columns if c in columns)
    report = report.with_ignored(result.ignored, result.note)
    warnings = [*result.warnings, *feature_warnings(result.table, dataset.kind)]
    return Prepared(
        dataset, dataset.transactions, report, result.table, fingerprint, result.snapshot, warnings
    )


def _check_enough(features: pd.DataFrame, name: str, snap) -> None:
    if len(features) < MIN_CUSTOMERS:
        raise SegmentationError(
            f"Only {len(features)} customer(s) have features (dataset '{name}', "
            f"snapshot {snap}); segmentation needs at least {MIN_CUSTOMERS}. Check the cleaning "
            "report, the snapshot date and the dataset."
        )


@dataclass
class CustomerTable:
    """What ``customer_table`` computes: the features and how they were made."""

    features: pd.DataFrame
    cleaning: Any  # CleaningReport, or None for per-customer inputs
    snapshot: pd.Timestamp | None
    warnings: list[str] = field(default_factory=list)
    fingerprint: str | None = None  # of the raw lines, when the engine computed one
    partitions: int = 1  # customer partitions the log was read in, one pass each


def resolve_options(dataset, cleaning, features):
    """(DatasetConfig, CleaningConfig, FeaturesConfig) from names of conf/ options or mappings."""
    from omegaconf import OmegaConf

    from src.config import compose_config
    from src.data.cleaning import cleaning_config
    from src.data.features import features_config
    from src.data.load import dataset_config

    overrides: list[str] = []
    for group, value in (("dataset", dataset), ("cleaning", cleaning), ("features", features)):
        if isinstance(value, str):
            overrides.append(f"{group}={value}")
    composed = compose_config("config", *overrides) if overrides else None

    def pick(group, value, convert):
        if isinstance(value, str):
            return OmegaConf.to_object(composed[group])
        return convert(value)

    return (
        pick("dataset", dataset, dataset_config),
        pick("cleaning", cleaning, cleaning_config),
        pick("features", features, features_config),
    )


def partitions_for(lines: int) -> int:
    """How many customer partitions ``customer_table`` splits a log of ``lines`` lines into."""
    return max(1, -(-lines // LINES_PER_PARTITION))


def in_partition(part: int, parts: int) -> pl.Expr:
    """The lines of customer partition ``part`` of ``parts`` (the missing id is one customer).

    Every cleaning rule and feature looks at the lines of one customer at a time (a repeat
    shares its customer with the line it repeats; cancellations take back purchases of their
    customer), so the partitions' results add up to the whole log's.
    """
    return pl.col(CUSTOMER_ID).hash(seed=_PARTITION_SEED) % parts == part


def customer_table(
    dataset_cfg: DatasetConfig,
    cleaning_cfg: CleaningConfig,
    features_cfg: FeaturesConfig,
    snapshot: str | pd.Timestamp | None = None,
    base_dir: Path | None = None,
    streaming: bool = False,
    partitions: int | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> CustomerTable:
    """The per-customer feature table in one query: read, clean and aggregate the log without
    keeping the cleaned lines (``streaming``: polars' streaming engine, for logs larger than
    memory). With ``dataset.engine=spark`` Spark does it (``src.data.spark``).

    ``partitions`` (default: one per ``LINES_PER_PARTITION`` lines of the log) splits the
    customers by a hash of their id and runs the query once per part, each pass reading the
    whole log but holding the state of its customers only; the table is the same.
    ``progress(parts_done, parts)`` is called after each part of a split log."""
    if dataset_cfg.engine is Engine.spark:
        from src.data import spark

        return spark.customer_table(dataset_cfg, cleaning_cfg, features_cfg, snapshot, base_dir)
    from src.data.cleaning import KEEP, flag_rules
    from src.data.features import features_at_snapshot, plan_features
    from src.data.load import open_dataset
    from src.data.readers import bad_columns

    if partitions is not None and partitions < 1:
        raise SegmentationError(
            f"partitions={partitions} is not allowed: the customers are split into at least "
            "one part. Leave it out (one part per 20,000,000 lines) or give e.g. partitions=4."
        )
    dataset = open_dataset(dataset_cfg, base_dir=base_dir)
    if dataset.log is None:
        features, snap = features_at(dataset, features_cfg, snapshot)
        return CustomerTable(features, None, snap, feature_warnings(features, dataset.kind))
    if partitions is None:  # counting a small CSV's lines would cost a third of its build
        many = dataset.log.may_have(LINES_PER_PARTITION)
        partitions = partitions_for(dataset.log.lines()) if many else 1
    flagged_logs = []

    def run(snap, count_after):
        plans = []

        def query(frame: pl.LazyFrame, part: int) -> list[pl.LazyFrame]:
            if partitions > 1:
                frame = frame.filter(in_partition(part, partitions))
            flagged = flag_rules(frame, cleaning_cfg)
            # The report's counts and the conversion checks are totals over the lines; per
            # customer only which customers keep a line.
            totals = [*flagged.count_columns(), *bad_columns(frame, keys=[CUSTOMER_ID])]
            plan = plan_features(
                flagged.frame,
                features_cfg,
                snap,
                pl.col(KEEP),
                [flagged.kept_column()],
                count_after,
                totals=totals,
            )
            plans.append(plan)
            flagged_logs.append(flagged)
            return [plan.aggregates, plan.totals]

        engine = "streaming" if streaming else "auto"
        done = None
        if progress is not None and partitions > 1:
            done = lambda part: progress(part + 1, partitions)  # noqa: E731
        parts = dataset.log.run_parts(
            query, partitions, keys=[CUSTOMER_ID], done=done, engine=engine
        )
        aggregates = pl.concat([a for a, _ in parts], how="vertical_relaxed")
        totals = pl.concat([t for _, t in parts], how="vertical_relaxed")
        line_totals.append(totals.select(pl.all().sum()))
        return plans[-1], aggregates

    line_totals: list[pl.DataFrame] = []
    result = features_at_snapshot(run, snapshot)
    report = flagged_logs[-1].report_of_customers(result.aggregates, line_totals[-1])
    report = report.with_ignored(result.ignored, result.note)
    warnings = [*result.warnings, *feature_warnings(result.table, dataset.kind)]
    return CustomerTable(result.table, report, result.snapshot, warnings, partitions=partitions)


def customer_features(
    dataset,
    cleaning="default",
    features="rfm",
    snapshot_date: str | pd.Timestamp | None = None,
    base_dir: Path | None = None,
) -> pd.DataFrame:
    """The per-customer feature table of a dataset, for notebooks and scripts.

    ``dataset``, ``cleaning`` and ``features`` are names of options in ``conf/`` (``"online_retail"``,
    ``"classic"``, ``"lrfmc"``) or mappings shaped like those YAML files, e.g.
    ``customer_features({"type": "transactions", "path": "orders.parquet", "columns": {...}})``.
    Returns a float64 pandas DataFrame indexed by ``customer_id``.
    """
    dataset_cfg, cleaning_cfg, features_cfg = resolve_options(dataset, cleaning, features)
    table = customer_table(dataset_cfg, cleaning_cfg, features_cfg, snapshot_date, base_dir)
    return table.features

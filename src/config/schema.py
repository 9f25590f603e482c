"""Typed schemas for the Hydra config, so a typo or a wrong type fails at start-up.

The `_target_` groups (outliers, scaler, model) stay untyped: their keys are the constructor
arguments of whichever estimator they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

from src.columns import NON_PRODUCT_CODES


class DatasetType(Enum):
    synthetic = "synthetic"
    transactions = "transactions"
    summary = "summary"
    features = "features"


class FeatureSet(Enum):
    rfm = "rfm"
    lrfmc = "lrfmc"


class FrequencyDef(Enum):
    invoices = "invoices"
    days = "days"


class MonetaryDef(Enum):
    total = "total"
    mean = "mean"


class Returns(Enum):
    drop = "drop"
    net = "net"


class Sampler(Enum):
    tpe = "tpe"
    random = "random"
    grid = "grid"


class Objective(Enum):
    silhouette = "silhouette"
    davies_bouldin = "davies_bouldin"
    calinski_harabasz = "calinski_harabasz"


class Job(Enum):
    segment = "segment"
    eda = "eda"


class SyntheticOutput(Enum):
    transactions = "transactions"
    summary = "summary"


class Engine(Enum):
    polars = "polars"  # one machine; streaming for logs larger than memory
    spark = "spark"  # a Spark cluster or local session (optional extra "spark")


@dataclass
class DatasetConfig:
    name: str = MISSING
    type: DatasetType = MISSING
    path: str | None = None  # a file, a folder of files or a glob (/data/orders/*.parquet)
    table: str | None = None  # engine=spark: a catalog table instead of a path
    format: str | None = None  # csv, parquet or excel; null: from the file suffix
    delimiter: str | None = None  # CSV field separator; null: ","
    sheet: str | None = None  # XLSX sheet name or 1-based number; null: the first sheet
    url: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    # planted segments to score against (customer_id, segment), e.g. the .labels.parquet file
    # `python -m src.data.synthetic` writes beside its log; never used as a feature
    labels: str | None = None
    engine: Engine = Engine.polars
    # synthetic generator
    n_customers: int = 5000
    seed: int = 0
    start: str = "2023-01-01"
    end: str = "2024-12-31"
    dirty: bool = True
    segment_shares: dict[str, float] = field(default_factory=dict)  # {}: the default mix
    output: SyntheticOutput = SyntheticOutput.transactions


@dataclass
class CleaningConfig:
    drop_missing_customer_id: bool = True
    drop_cancellations: bool = True
    cancellation_prefix: str = "C"
    drop_non_positive_quantity: bool = True
    drop_non_positive_price: bool = True
    drop_duplicates: bool = True
    drop_non_product_codes: bool = True
    non_product_codes: list[str] = field(default_factory=lambda: list(NON_PRODUCT_CODES))
    returns: Returns = Returns.drop


@dataclass
class FeaturesConfig:
    name: FeatureSet = MISSING
    frequency: FrequencyDef = FrequencyDef.invoices
    monetary: MonetaryDef = MonetaryDef.total


@dataclass
class KRange:
    low: int = 2
    high: int = 10


@dataclass
class SearchSpace:
    outliers: list[str] = field(default_factory=list)
    scaler: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)


@dataclass
class SweepConfig:
    n_trials: int = 20
    timeout: float | None = None
    sampler: Sampler = Sampler.tpe
    seed: int = 0
    n_jobs: int = 1
    resume: bool = False
    storage: str | None = None
    objective: Objective = Objective.silhouette
    min_cluster_share: float = 0.02
    silhouette_sample_size: int = 10_000
    stability_bootstraps: int = 10
    refine_k: bool = True
    log_trial_artifacts: bool = True
    k: KRange = field(default_factory=KRange)
    search_space: SearchSpace = field(default_factory=SearchSpace)


@dataclass
class MlflowConfig:
    tracking_uri: str | None = None
    experiment: str = MISSING
    registered_model: str = "customer-segmentation"
    register: bool = True


@dataclass
class ReportConfig:
    path: str | None = None


@dataclass
class Config:
    job: Job = Job.segment
    experiment_name: str = "segmentation"
    seed: int = 42
    threads: int = 1
    snapshot_date: str | None = None
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    outliers: Any = MISSING
    scaler: Any = MISSING
    model: Any = MISSING
    sweep: SweepConfig = field(default_factory=SweepConfig)
    insight: Any = None
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    report: ReportConfig = field(default_factory=ReportConfig)


@dataclass
class PredictConfig:
    model_uri: str = "models:/customer-segmentation@champion"
    seed: int = 42
    output: str = "predictions/segments.csv"
    snapshot_date: str | None = None
    tracking_uri: str | None = None
    recommendations: int = 0
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)


@dataclass
class MigrateConfig:
    model_uri: str = "models:/customer-segmentation@champion"
    seed: int = 42
    before: str = MISSING
    after: str | None = None
    output_dir: str = "reports/migration"
    tracking_uri: str | None = None
    log_to_mlflow: bool = True
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)

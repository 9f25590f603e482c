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
from src.errors import SegmentationError


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
    match = "match"  # a cancellation removes or reduces the purchase it cancels (src.data.cleaning)
    drop = "drop"
    net = "net"


class Sampler(Enum):
    tpe = "tpe"
    random = "random"
    grid = "grid"


class Role(Enum):
    leader = "leader"
    worker = "worker"


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
    returns: Returns = Returns.match


@dataclass
class FeaturesConfig:
    name: FeatureSet = MISSING
    frequency: FrequencyDef = FrequencyDef.invoices
    monetary: MonetaryDef = MonetaryDef.total


def _fail(key: str, value: Any, rule: str, example: str) -> None:
    raise SegmentationError(
        f"{key}={value!r} is not allowed: {rule}. Fix it on the command line or in the "
        f"experiment file, e.g. {example}."
    )


@dataclass
class KRange:
    """The numbers of segments a sweep tries, low..high inclusive."""

    low: int = 2
    high: int = 10

    def __post_init__(self) -> None:
        if self.low < 2:
            _fail(
                "sweep.k.low", self.low, "a segmentation needs at least 2 segments", "sweep.k.low=2"
            )
        if self.high < self.low:
            _fail(
                "sweep.k.high",
                self.high,
                f"it must be at least sweep.k.low ({self.low})",
                f"sweep.k.high={max(self.low, 10)}",
            )


class KRule(Enum):
    knee = "knee"  # near the knee, well separated, stable, acceptable shares (README)
    objective = "objective"  # the k of the best trial by the objective alone


@dataclass
class KChoice:
    """How the number of segments is chosen on the chosen configuration's curve over k."""

    rule: KRule = KRule.knee
    window: int = 1  # candidates: k within this many of the inertia curve's knee
    tolerance: float = 0.2  # silhouette and Davies-Bouldin within 20% of the candidates' best
    min_stability: float = 0.8  # bootstrap ARI a candidate needs (sweep.stability_bootstraps)

    def __post_init__(self) -> None:
        if self.window < 0:
            _fail(
                "sweep.k_choice.window",
                self.window,
                "it counts k, 0 or more",
                "sweep.k_choice.window=1",
            )
        if not 0 <= self.tolerance < 1:
            _fail(
                "sweep.k_choice.tolerance",
                self.tolerance,
                "it is a relative tolerance, at least 0 and below 1",
                "sweep.k_choice.tolerance=0.1",
            )
        if not 0 <= self.min_stability <= 1:
            _fail(
                "sweep.k_choice.min_stability",
                self.min_stability,
                "it is an adjusted Rand index between 0 and 1",
                "sweep.k_choice.min_stability=0.8",
            )


@dataclass
class SearchSpace:
    """Options of each swept group the sampler may pick; empty: the group's composed option.

    A group chosen on the command line (``scaler=robust``) narrows its list to that option.
    """

    outliers: list[str] = field(default_factory=list)
    scaler: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)


@dataclass
class SweepConfig:
    """The Optuna search over outliers, scaler, model and k, run inside the program."""

    n_trials: int = 20  # distinct configurations fitted by all processes of the sweep together
    # (repeats, surplus trials and the k refinement come on top; see the README)
    timeout: float | None = None  # seconds; stop sampling earlier when reached (per process)
    sampler: Sampler = Sampler.tpe  # grid enumerates the whole space
    seed: int = 0
    n_jobs: int = 1  # processes on this machine working the sweep (1: this process alone)
    resume: bool = False  # continue the latest sweep of this experiment on the same data
    # None: $OPTUNA_STORAGE, else sqlite optuna.db beside a local MLflow store; any SQLAlchemy
    # URL (postgresql://... for several machines) or journal:<file> (Optuna's journal file)
    storage: str | None = None
    role: Role = Role.leader  # leader creates the sweep; worker joins one (see study_name)
    study_name: str | None = None  # None: a leader names it <experiment>-<time>, a worker joins
    # the newest open sweep of this experiment on the same data
    join_timeout: float = 300.0  # seconds a worker waits for the sweep to appear
    heartbeat_interval: int = 30  # seconds between a running trial's heartbeats (server storage)
    grace_period: int = 180  # seconds without a heartbeat before a trial counts as dead
    max_retry: int = 2  # retries of a trial whose process died
    poll_interval: float = 1.0  # seconds between looks at the study while waiting for others
    objective: Objective = Objective.silhouette
    min_cluster_share: float = 0.02  # solutions with a smaller smallest segment are rejected
    silhouette_sample_size: int = 10_000  # silhouette on a seeded sample above this many customers
    # Trials, the curve over k and stability fit on a seeded sample above this many customers
    # (every customer is still labelled and scored); the chosen configuration refits on all.
    # null: always fit on all customers.
    fit_sample_size: int | None = 20_000
    stability_bootstraps: int = 10  # refits on bootstrap samples for the stability score
    refine_k: bool = True  # then try every k of the range for the best outliers/scaler/model
    log_trial_artifacts: bool = True  # per-trial radar chart and fitted pipeline
    k: KRange = field(default_factory=KRange)
    k_choice: KChoice = field(default_factory=KChoice)
    search_space: SearchSpace = field(default_factory=SearchSpace)

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            _fail(
                "sweep.n_trials",
                self.n_trials,
                "a sweep needs at least one trial",
                "sweep.n_trials=20",
            )
        if self.timeout is not None and not self.timeout > 0:
            _fail(
                "sweep.timeout",
                self.timeout,
                "it must be a positive number of seconds or null",
                "sweep.timeout=600",
            )
        if self.n_jobs < 1:
            _fail(
                "sweep.n_jobs",
                self.n_jobs,
                "at least one trial must run at a time",
                "sweep.n_jobs=1",
            )
        if self.join_timeout < 0:
            _fail(
                "sweep.join_timeout",
                self.join_timeout,
                "it is a number of seconds, 0 or more",
                "sweep.join_timeout=300",
            )
        if self.heartbeat_interval < 1:
            _fail(
                "sweep.heartbeat_interval",
                self.heartbeat_interval,
                "it is a whole number of seconds, at least 1",
                "sweep.heartbeat_interval=30",
            )
        if self.grace_period <= self.heartbeat_interval:
            _fail(
                "sweep.grace_period",
                self.grace_period,
                f"it must exceed sweep.heartbeat_interval ({self.heartbeat_interval}), or live "
                "trials would count as dead",
                f"sweep.grace_period={max(180, 4 * self.heartbeat_interval)}",
            )
        if self.max_retry < 0:
            _fail(
                "sweep.max_retry",
                self.max_retry,
                "it counts retries, 0 or more",
                "sweep.max_retry=2",
            )
        if not self.poll_interval > 0:
            _fail(
                "sweep.poll_interval",
                self.poll_interval,
                "it is a positive number of seconds",
                "sweep.poll_interval=1",
            )
        if self.resume and self.role is Role.worker:
            _fail(
                "sweep.role",
                "worker",
                "sweep.resume=true continues a sweep as its owner; a worker joins one without it",
                "sweep.resume=true alone",
            )
        if not 0 <= self.min_cluster_share < 1:
            _fail(
                "sweep.min_cluster_share",
                self.min_cluster_share,
                "it is a share of customers, at least 0 and below 1",
                "sweep.min_cluster_share=0.02",
            )
        if self.silhouette_sample_size < 100:
            _fail(
                "sweep.silhouette_sample_size",
                self.silhouette_sample_size,
                "silhouette needs a sample of at least 100 customers",
                "sweep.silhouette_sample_size=10000",
            )
        if self.fit_sample_size is not None and self.fit_sample_size < 1000:
            _fail(
                "sweep.fit_sample_size",
                self.fit_sample_size,
                "trials need a sample of at least 1000 customers (null fits on all of them)",
                "sweep.fit_sample_size=20000",
            )
        if self.stability_bootstraps < 0:
            _fail(
                "sweep.stability_bootstraps",
                self.stability_bootstraps,
                "it counts refits; 0 switches the stability score off",
                "sweep.stability_bootstraps=10",
            )


@dataclass
class InsightConfig:
    """Segment names, playbook and product picks (conf/insight/default.yaml holds the tables)."""

    top_products: int = 10  # products listed per segment
    recommendations_per_customer: int = 5
    min_support: float = 0.02  # a pick must be bought by this share of the segment's customers
    rules_max_depth: int = 3  # conditions per leaf of the tree that describes each segment
    rules_min_leaf_share: float = 0.01  # a rule's leaf holds at least this share of customers
    naming: Any = None  # levels, rules and fallback (see src/insight/naming.py)
    playbook: Any = None  # segment name -> actions


class ValueModel(Enum):
    beta_geo = "beta_geo"  # BG/NBD (Fader, Hardie & Lee 2005)
    pareto_nbd = "pareto_nbd"  # Pareto/NBD (Schmittlein, Morrison & Colombo 1987)


class ValueFit(Enum):
    map = "map"  # maximum a posteriori: one point estimate, seconds
    mcmc = "mcmc"  # full posterior with NUTS (value.draws x value.chains), minutes


@dataclass
class ValueConfig:
    """Customer value with pymc-marketing: P(alive), expected purchases and lifetime value.

    Needs the ``value`` extra (``pip install -e ".[value]"``); off unless ``enabled``.
    """

    enabled: bool = False
    model: ValueModel = ValueModel.beta_geo  # the purchase-count model; Gamma-Gamma for spend
    fit: ValueFit = ValueFit.map
    draws: int = 500  # posterior draws per chain (value.fit=mcmc only)
    chains: int = 2  # (value.fit=mcmc only)
    purchase_days: int = 90  # expected purchases over the next this many days
    clv_months: int = 12  # lifetime value over this many months
    discount_rate: float = 0.01  # per month, for the lifetime value (0.01: about 12.7% a year)
    at_risk_p_alive: float = 0.5  # customers below this P(alive) count as value at risk
    holdout_months: int = 3  # temporal holdout: fit up to this many months before the end; 0: off
    seed: int = 0

    def __post_init__(self) -> None:
        for key, value, example in (
            ("draws", self.draws, "value.draws=500"),
            ("chains", self.chains, "value.chains=2"),
            ("purchase_days", self.purchase_days, "value.purchase_days=90"),
            ("clv_months", self.clv_months, "value.clv_months=12"),
        ):
            if value < 1:
                _fail(f"value.{key}", value, "it must be a whole number of at least 1", example)
        if not 0 <= self.discount_rate < 1:
            _fail(
                "value.discount_rate",
                self.discount_rate,
                "it is a monthly rate, at least 0 and below 1",
                "value.discount_rate=0.01",
            )
        if not 0 < self.at_risk_p_alive < 1:
            _fail(
                "value.at_risk_p_alive",
                self.at_risk_p_alive,
                "it is a probability strictly between 0 and 1",
                "value.at_risk_p_alive=0.5",
            )
        if self.holdout_months < 0:
            _fail(
                "value.holdout_months",
                self.holdout_months,
                "it counts months before the end of the log; 0 switches the holdout off",
                "value.holdout_months=3",
            )
        if self.enabled:
            import importlib.util

            if importlib.util.find_spec("pymc_marketing") is None:
                raise SegmentationError(
                    'value.enabled=true needs the value extra: pip install -e ".[value]" '
                    "(pymc-marketing), or run without it (value=none)."
                )


@dataclass
class MlflowConfig:
    tracking_uri: str | None = (
        None  # None: $MLFLOW_TRACKING_URI, else sqlite:///<project>/mlflow.db
    )
    experiment: str = "${experiment_name}"
    registered_model: str = "customer-segmentation"
    register: bool = True


@dataclass
class ReportConfig:
    path: str | None = None  # also write the HTML report here (it is always logged to the run)


@dataclass
class Config:
    job: Job = Job.segment
    experiment_name: str = "segmentation"
    seed: int = 42
    threads: int = 1  # BLAS/OpenMP threads for fitting (K-Means slows down when they oversubscribe)
    snapshot_date: str | None = None  # None: midnight after the last transaction
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    outliers: Any = MISSING
    scaler: Any = MISSING
    model: Any = MISSING
    sweep: SweepConfig = field(default_factory=SweepConfig)
    insight: InsightConfig = field(default_factory=InsightConfig)
    value: ValueConfig = field(default_factory=ValueConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def __post_init__(self) -> None:
        if self.threads < 1:
            _fail("threads", self.threads, "at least one thread is needed", "threads=1")


@dataclass
class PredictConfig:
    """``python -m src.predict``: score a dataset with a registered model."""

    model_uri: str = "models:/customer-segmentation@champion"
    seed: int = 42  # only used by the synthetic dataset
    output: str = "predictions/segments.csv"  # .csv or .parquet
    snapshot_date: str | None = None  # None: the training snapshot on the training data, else
    # midnight after the last transaction
    tracking_uri: str | None = (
        None  # None: $MLFLOW_TRACKING_URI, else sqlite:///<project>/mlflow.db
    )
    recommendations: int = 0  # > 0: also write the top-N unseen products per customer
    log_to_mlflow: bool = True  # a run in experiment "segment-scoring" per scoring
    path: str | None = None  # score this file with the dataset mapping of the model's contract
    dataset: DatasetConfig | None = None  # None: the dataset of the model's data contract
    cleaning: CleaningConfig | None = None  # None: the cleaning of the model's data contract


@dataclass
class MigrateConfig:
    """``python -m src.migrate``: segment migration between two snapshot dates."""

    model_uri: str = "models:/customer-segmentation@champion"
    seed: int = 42  # only used by the synthetic dataset
    before: str = MISSING  # the earlier snapshot date
    after: str | None = None  # None: midnight after the last transaction
    output_dir: str = "reports/migration"
    tracking_uri: str | None = None
    log_to_mlflow: bool = True  # also a run of experiment "segment-migration"
    path: str | None = None  # read this file with the dataset mapping of the model's contract
    dataset: DatasetConfig | None = None  # None: the dataset of the model's data contract
    cleaning: CleaningConfig | None = None  # None: the cleaning of the model's data contract


@dataclass
class CompareConfig:
    """``python -m src.compare``: two model versions on one dataset (agreement, mapping, metrics)."""

    model_a: str = MISSING  # e.g. models:/customer-segmentation/1
    model_b: str = MISSING  # e.g. models:/customer-segmentation@champion
    seed: int = 42  # only used by the synthetic dataset
    snapshot_date: str | None = None  # None: model_a's training snapshot on its training data
    tracking_uri: str | None = (
        None  # None: $MLFLOW_TRACKING_URI, else sqlite:///<project>/mlflow.db
    )
    output_dir: str = "reports/compare"  # mapping and metric tables are written here
    log_to_mlflow: bool = True  # a run in experiment "segment-comparison"
    path: str | None = None  # read this file with the dataset mapping of model_a's contract
    dataset: DatasetConfig | None = None  # None: the dataset of model_a's data contract
    cleaning: CleaningConfig | None = None  # None: the cleaning of model_a's data contract

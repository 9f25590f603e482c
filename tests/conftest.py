"""Shared fixtures: the real UCI Online Retail log, read once per test session.

The file is looked up in ``$SEGMENTATION_DATA_DIR`` (default ``../shared/data`` next to the
repository; a relative value is taken from the repository root, like the dataset configs do).
Tests that need it are skipped when it is absent, unless ``REQUIRE_REAL_DATA=1``, which turns
the skip into a failure (for CI jobs that must exercise the real data).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = "../shared/data"
ONLINE_RETAIL_FILE = "online_retail.csv.gz"
ONLINE_RETAIL_COLUMNS = {
    "invoice_id": "InvoiceNo",
    "stock_code": "StockCode",
    "description": "Description",
    "quantity": "Quantity",
    "invoice_date": "InvoiceDate",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
    "country": "Country",
}


def real_data_dir() -> Path:
    return REPO_ROOT / os.environ.get("SEGMENTATION_DATA_DIR", DEFAULT_DATA_DIR)


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    path = real_data_dir() / ONLINE_RETAIL_FILE
    if not path.is_file():
        message = (
            f"real data file {path} not found; set SEGMENTATION_DATA_DIR to the folder that "
            f"holds {ONLINE_RETAIL_FILE}"
        )
        if os.environ.get("REQUIRE_REAL_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def online_retail(online_retail_path: Path) -> pd.DataFrame:
    """The full log in canonical columns. Shared by the session: never modify it in a test."""
    from src.data.loaders import read_transactions

    return read_transactions(online_retail_path, ONLINE_RETAIL_COLUMNS)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """A private MLflow store per test module; the user's mlflow.db is never touched."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    mp.undo()


SMALL_SWEEP = (
    "+experiment=lrfmc",
    "dataset.n_customers=600",
    "sweep.n_trials=4",
    "sweep.stability_bootstraps=2",
    "sweep.k.low=3",
    "sweep.k.high=6",
    "sweep.search_space.outliers=[none,iqr_clip]",
    "sweep.search_space.scaler=[log_standard,robust]",
    "sweep.search_space.model=[kmeans]",
)


def build_result(*overrides: str, base: tuple[str, ...] = SMALL_SWEEP):
    """A real SegmentationResult from a small sweep (``base``: the small synthetic one), with no
    tracking store involved: the object the finalise step hands to MLflow logging, the report
    and the registry."""
    import optuna

    from src.config import compose_config
    from src.data.contract import DataContract
    from src.data.prepare import prepare_data
    from src.jobs.finalise import finalise
    from src.jobs.segment import load_options, run_trials
    from src.model.evaluation import EvaluationSpace
    from src.sweep import study as sw
    from src.sweep.space import sweep_space
    from src.viz.background import Background

    cfg = compose_config("config", *base, *overrides)
    options = load_options(cfg)
    data = prepare_data(options.dataset, options.cleaning, options.features, options.snapshot_date)
    space = sweep_space(cfg)
    X_eval = EvaluationSpace().fit_transform(data.features)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        direction=sw.DIRECTIONS[options.sweep.objective.value],
        sampler=sw.make_sampler(options.sweep.sampler.value, space, options.sweep.seed),
    )
    study.set_user_attr("objective", options.sweep.objective.value)
    run_trials(options, study, space, data, X_eval, hooks=[])
    contract = DataContract(
        options.dataset, options.cleaning, options.features, options.snapshot_date, data.fingerprint
    ).to_dict()
    background = Background(draw_in_process=False)
    try:
        result = finalise(options, data, study, space, X_eval, background, contract)
    finally:
        assert not background.close()
    return result, study


@pytest.fixture(scope="session")
def sweep_result():
    """(SegmentationResult, study) of a small real sweep, built once per test session."""
    return build_result()

"""Shared fixtures: the real UCI Online Retail log, read once per test session.

The file is looked up in ``$SEGMENTATION_DATA_DIR`` (default ``../shared/data`` next to the
repository; a relative value is taken from the repository root, like the dataset configs do).
Tests that need it are skipped when it is absent, unless ``REQUIRE_REAL_DATA=1``, which turns
the skip into a failure (for CI jobs that must exercise the real data).

Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``) every test module is one unit
of work, so its module fixtures are built once; the modules that share an expensive session
fixture (the team servers, the small sweep) are one unit each, and the slow units are handed out
first so that no long end-to-end module starts last.
"""

from __future__ import annotations

import os
from pathlib import Path

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


# Units of work for ``--dist loadgroup`` (``make test``): each test module is one unit, so its
# module fixtures are built once; the modules sharing an expensive session fixture are one unit,
# on one worker: the team servers (one PostgreSQL cluster and MLflow server) and the small sweep
# of ``sweep_result``. A new module using one of these fixtures belongs here too (otherwise it
# still passes, at the cost of a second set-up on the other worker).
SHARED_UNITS = {
    "tests/e2e/test_team_servers.py": "team-servers",
    "tests/e2e/test_shared_sweep.py": "team-servers",
    "tests/jobs/test_score.py": "sweep-result",
    "tests/jobs/test_finalise.py": "sweep-result",
    "tests/report/test_from_result.py": "sweep-result",
    "tests/tracking/test_registry.py": "sweep-result",
    "tests/tracking/test_artifacts.py": "sweep-result",
}
SHARED_FIXTURES = {"team": "team-servers", "sweep_result": "sweep-result"}
# Handed out first: the unit whose tests run several sweep processes against the servers.
FIRST_UNITS = ("team-servers",)


def unit_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return SHARED_UNITS.get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup`` by the units above. pytest-xdist 3.8's own loadgroup no longer
    groups on pytest 9.2 (it renames node ids, which pytest 9.2 ignores: pytest-xdist#1386), so
    its module scheduler is given this suite's units instead, in collection order."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SuiteUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False
    return SuiteUnits(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker of ``--dist loadgroup``, the collection the scheduler hands out:
    the team-server unit first, then the units with slow end-to-end tests, then the rest (each
    in its own order), so that no long unit starts last."""
    if not (hasattr(config, "workerinput") and config.getoption("loadgroup", False)):
        return
    for item in items:
        for fixture, unit in SHARED_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()) and unit_of(item.nodeid) != unit:
                item.warn(pytest.PytestWarning(f"add {item.path.name} to SHARED_UNITS[{unit}]"))
    slow = {unit_of(i.nodeid) for i in items if i.get_closest_marker("slow")}

    def order(indexed: tuple[int, pytest.Item]) -> tuple[int, int]:
        index, item = indexed
        unit = unit_of(item.nodeid)
        return (0 if unit in FIRST_UNITS else 1 if unit in slow else 2, index)

    items[:] = [item for _, item in sorted(enumerate(items), key=order)]


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
def online_retail(online_retail_path: Path):
    """The full log in canonical columns (polars). Shared by the session."""
    from src.data.readers import read_transactions

    return read_transactions(online_retail_path, ONLINE_RETAIL_COLUMNS)


@pytest.fixture(scope="session")
def online_retail_dataset(online_retail_path: Path) -> dict:
    """The UCI file as a dataset mapping (the shape of conf/dataset/online_retail.yaml)."""
    return {
        "name": "online_retail",
        "type": "transactions",
        "path": str(online_retail_path),
        "columns": ONLINE_RETAIL_COLUMNS,
    }


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


def cleaning_option(name: str):
    """The CleaningConfig of ``conf/cleaning/<name>.yaml``, composed as the command line would."""
    from omegaconf import OmegaConf

    from src.config import compose_config

    return OmegaConf.to_object(compose_config("config", f"cleaning={name}").cleaning)


@pytest.fixture(scope="session")
def classic_cleaning():
    return cleaning_option("classic")


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

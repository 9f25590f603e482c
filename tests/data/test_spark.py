"""Parity of the two engines: Spark (local mode, loopback only) gives the same per-customer
table and cleaning counts as polars, on the UCI file and on a dirty synthetic log.

Needs the ``spark`` extra and Java 17. Skipped without them, unless ``REQUIRE_SPARK=1`` (CI
sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from src.config.schema import Engine
from src.data.prepare import customer_table, prepare_data, resolve_options

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (pip install -e '.[spark]')"
    if missing is None and shutil.which("java") is None:
        missing = "java is not on PATH (Spark needs Java 17)"
    if missing:
        if os.environ.get("REQUIRE_SPARK") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    from src.data import spark as engine

    session = engine.session()
    yield session
    session.stop()


def both(dataset, cleaning, features, snapshot=None):
    dataset_cfg, cleaning_cfg, features_cfg = resolve_options(dataset, cleaning, features)
    polars_table = customer_table(dataset_cfg, cleaning_cfg, features_cfg, snapshot)
    spark_cfg = replace(dataset_cfg, engine=Engine.spark)
    spark_table = customer_table(spark_cfg, cleaning_cfg, features_cfg, snapshot)
    return polars_table, spark_table


def assert_same(polars_table, spark_table):
    pd.testing.assert_frame_equal(spark_table.features, polars_table.features, check_exact=True)
    assert spark_table.cleaning.to_dict() == polars_table.cleaning.to_dict()
    assert spark_table.snapshot == polars_table.snapshot


@pytest.mark.real_data
def test_classic_rfm_of_the_uci_file_is_the_same(spark, online_retail_dataset):
    assert_same(*both(online_retail_dataset, "classic", "rfm", "2011-12-10"))


@pytest.mark.real_data
def test_default_cleaning_of_the_uci_file_is_the_same(spark, online_retail_dataset):
    polars_table, spark_table = both(
        online_retail_dataset, "default", {"name": "rfm", "frequency": "days"}
    )
    assert_same(polars_table, spark_table)
    assert spark_table.cleaning.to_dict()["clean.duplicates.removed"] > 0


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from src.data.synthetic.generate import write_log

    path = tmp_path_factory.mktemp("spark_shop") / "shop.parquet"
    write_log(path, n_customers=300, seed=4)
    return {"name": "shop", "type": "transactions", "path": str(path)}


@pytest.mark.parametrize("cleaning", ["default", "net"])
def test_lrfmc_of_a_synthetic_parquet_log_is_the_same(spark, shop, cleaning):
    options = {"returns": "net"} if cleaning == "net" else "default"
    assert_same(*both(shop, options, {"name": "lrfmc", "monetary": "mean"}))


def test_prepare_data_on_spark_brings_back_only_the_customer_table(spark, shop):
    dataset, cleaning, features = resolve_options({**shop, "engine": "spark"}, "default", "lrfmc")
    prepared = prepare_data(dataset, cleaning, features)
    assert prepared.transactions is None
    assert len(prepared.features) == 300
    assert prepared.fingerprint

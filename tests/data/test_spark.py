"""Parity of the two engines: Spark (local mode, loopback only) gives the same per-customer
table and cleaning counts as polars, on the UCI file and on a dirty synthetic log.

Needs the ``spark`` extra and Java 17. Skipped without them, unless ``REQUIRE_SPARK=1`` (CI
sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
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

    # SparkContext installs its own SIGINT handler; later tests in this process expect Python's.
    handler = signal.getsignal(signal.SIGINT)
    session = engine.session()
    yield session
    session.stop()
    signal.signal(signal.SIGINT, handler)


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


@pytest.mark.parametrize("returns", ["match", "drop", "net"])
def test_lrfmc_of_a_synthetic_parquet_log_is_the_same(spark, shop, returns):
    assert_same(*both(shop, {"returns": returns}, {"name": "lrfmc", "monetary": "mean"}))


def test_cancellations_take_back_the_same_purchases(spark, tmp_path):
    # Customer c: invoice 2 fully and invoice 1 partly cancelled; B cancelled with no purchase;
    # a later purchase of A stays. Customers d..m make the ten the sweep needs.
    rows = [
        ("c", "1", "A", 5, "2011-01-01 10:00"),
        ("c", "2", "A", 3, "2011-01-02 10:00"),
        ("c", "C3", "A", -4, "2011-01-03 10:00"),
        ("c", "C4", "B", -2, "2011-01-03 10:00"),
        ("c", "5", "A", 2, "2011-01-05 10:00"),
        *[(chr(100 + i), f"9{i}", "A", 1, "2011-01-04 10:00") for i in range(10)],
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "stock_code", "quantity", "d"])
    frame["invoice_date"] = pd.to_datetime(frame.pop("d"))
    frame["unit_price"] = 1.25
    frame["amount"] = frame["quantity"] * frame["unit_price"]
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path, index=False)
    dataset = {"name": "orders", "type": "transactions", "path": str(path)}
    polars_table, spark_table = both(dataset, "default", "rfm")
    assert_same(polars_table, spark_table)
    numbers = spark_table.cleaning.to_dict()
    assert numbers["clean.cancelled_purchases.removed"] == 1
    assert numbers["clean.purchases_reduced"] == 1
    assert numbers["clean.cancellations_unmatched"] == 1


def test_prepare_data_on_spark_brings_back_only_the_customer_table(spark, shop):
    dataset, cleaning, features = resolve_options({**shop, "engine": "spark"}, "default", "lrfmc")
    prepared = prepare_data(dataset, cleaning, features)
    assert prepared.transactions is None
    assert len(prepared.features) == 300
    assert prepared.fingerprint

"""Reference counts of the UCI Online Retail file (from shared/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from omegaconf import OmegaConf

from src import columns as schema
from src.data.cleaning import RULES, clean_transactions
from src.data.features import default_snapshot, transaction_features
from src.data.load import load_dataset

pytestmark = pytest.mark.real_data

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = pd.Timestamp("2011-12-10")
ALL_RULES_OFF = {"returns": "drop", **{f"drop_{rule}": False for rule in RULES}}


@pytest.fixture(scope="module")
def classic(online_retail: pd.DataFrame, classic_cleaning):
    return clean_transactions(online_retail, classic_cleaning)


@pytest.fixture(scope="module")
def classic_rfm(classic) -> pd.DataFrame:
    return transaction_features(classic[0], "rfm", SNAPSHOT)


def test_row_count(online_retail):
    assert len(online_retail) == 541_909


def test_canonical_dtypes(online_retail):
    schema_ = online_retail.schema
    for column in (schema.CUSTOMER_ID, schema.INVOICE_ID, schema.STOCK_CODE):
        assert schema_[column] == pl.String, column
    assert schema_[schema.INVOICE_DATE] == pl.Datetime("us")
    for column in (schema.QUANTITY, schema.UNIT_PRICE, schema.AMOUNT):
        assert schema_[column] == pl.Float64, column


def test_float_customer_ids_become_plain_ids(online_retail):
    assert online_retail[schema.CUSTOMER_ID][0] == "17850"


def test_missing_customer_ids(online_retail):
    assert online_retail[schema.CUSTOMER_ID].null_count() == 135_080


def test_distinct_customers(online_retail):
    assert online_retail[schema.CUSTOMER_ID].drop_nulls().n_unique() == 4_372


@pytest.mark.parametrize(
    ("switch", "removed"),
    [("drop_cancellations", 9_288), ("drop_duplicates", 5_268)],
)
def test_single_rule_counts(online_retail, switch, removed):
    _, report = clean_transactions(online_retail, {**ALL_RULES_OFF, switch: True})
    assert report.rows_in - report.rows_out == removed


def test_classic_cleaning_rows(classic):
    assert len(classic[0]) == 397_884


def test_classic_cleaning_customers(classic):
    cleaned, report = classic
    assert cleaned[schema.CUSTOMER_ID].n_unique() == report.customers_out == 4_338


def test_classic_cleaning_revenue(classic):
    assert round(classic[0][schema.AMOUNT].sum(), 2) == pytest.approx(8_911_407.90)


def test_default_snapshot_is_reference_snapshot(classic):
    assert default_snapshot(classic[0]) == SNAPSHOT


def test_rfm_customers(classic_rfm):
    assert len(classic_rfm) == 4_338


@pytest.mark.parametrize(
    ("feature", "mean", "median", "maximum"),
    [
        (schema.FREQUENCY, 4.27, 2, 209),
        (schema.MONETARY, 2_054.27, 674.48, 280_206.02),
    ],
)
def test_rfm_reference_statistics(classic_rfm, feature, mean, median, maximum):
    values = classic_rfm[feature]
    assert values.mean() == pytest.approx(mean, abs=5e-3)
    assert values.median() == pytest.approx(median, abs=5e-3 + 1e-9)
    assert values.max() == pytest.approx(maximum, abs=5e-3)


@pytest.mark.parametrize(
    ("feature", "mean", "median", "maximum"),
    [(schema.RECENCY, 92.06, 50, 373)],
)
def test_rfm_reference_recency(classic_rfm, feature, mean, median, maximum):
    values = classic_rfm[feature]
    assert (round(values.mean(), 2), values.median(), values.max()) == (mean, median, maximum)


def test_project_dataset_config_loads_the_same_log(online_retail, online_retail_path: Path):
    cfg = OmegaConf.load(REPO_ROOT / "conf" / "dataset" / "online_retail.yaml")
    cfg.path = str(online_retail_path)
    dataset = load_dataset(OmegaConf.to_container(cfg, resolve=True), base_dir=REPO_ROOT)
    assert dataset.transactions.equals(online_retail)


# -- default cleaning: cancellations take back the purchases they cancel ---------------------


@pytest.fixture(scope="module")
def default_clean(online_retail: pd.DataFrame):
    return clean_transactions(online_retail, {})


@pytest.fixture(scope="module")
def default_rfm(default_clean) -> pd.DataFrame:
    return transaction_features(default_clean[0], "rfm", SNAPSHOT)


@pytest.mark.parametrize("customer", ["12346", "16446"])
def test_cancelled_giant_orders_make_no_high_spender(default_rfm, customer):
    # 12346 bought 74,215 units and 16446 80,995 units, each order cancelled the same day.
    high = default_rfm[schema.MONETARY].quantile(0.9)
    spend = default_rfm[schema.MONETARY].get(customer, 0.0)
    assert spend < high


def test_cancelled_giant_lines_are_not_in_the_default_log(default_clean):
    assert default_clean[0][schema.QUANTITY].max() < 74_215


def test_default_report_counts_the_cancelled_purchases(default_clean):
    report = default_clean[1]
    step = report.to_frame().loc["cancelled_purchases"]
    assert step["rows_removed"] > 0
    assert report.purchases_reduced > 0
    assert report.rows_out == len(default_clean[0])

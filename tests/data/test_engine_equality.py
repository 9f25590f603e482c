"""The polars engine gives the results of the pandas implementation it replaced.

The pandas implementation (``tests/data/legacy``) is kept only for this test. Every cleaning
option set, feature set, frequency and monetary definition and both snapshot rules are run
through both on a dirty synthetic log and on the UCI file: reads, cleaning reports, customer
sets, recency, frequency, length and discount share must be identical. Monetary value must
agree to a millionth of the currency unit: polars sums money exactly (in millionths), pandas
added floats in row order, which leaves a rounding residue of about 1e-14 relative (and up to
1e-10 absolute where returns cancel purchases out).
"""

from __future__ import annotations

import importlib
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from src import columns as schema
from src.data.cleaning import RULES, clean_transactions
from src.data.features import transaction_features
from src.data.readers import read_transactions
from src.data.synthetic import generate_transactions
from tests.conftest import ONLINE_RETAIL_COLUMNS

sys.path.insert(0, str(Path(__file__).parent))
legacy_ids = importlib.import_module("legacy.ids")
legacy_readers = importlib.import_module("legacy.readers")
legacy_cleaning = importlib.import_module("legacy.cleaning")
legacy_features = importlib.import_module("legacy.features")

CLEANING = {
    "default": {},
    "classic": {"drop_duplicates": False, "drop_non_product_codes": False},
    "net": {"returns": "net"},
    "none": {f"drop_{rule}": False for rule in RULES},
    **{f"without_{rule}": {f"drop_{rule}": False} for rule in RULES},
}
DEFINITIONS = [
    {"frequency": f, "monetary": m}
    for f, m in itertools.product(["invoices", "days"], ["total", "mean"])
]


def as_legacy_log(tx: pl.DataFrame) -> pd.DataFrame:
    """A polars log in the pandas implementation's dtypes (ids as sorted categoricals)."""
    frame = tx.to_pandas()
    for column in (schema.CUSTOMER_ID, schema.INVOICE_ID):
        frame[column] = legacy_ids.as_ids(frame[column].astype("str"))
    return frame


def assert_same_features(old: pd.DataFrame, new: pd.DataFrame) -> None:
    assert list(new.index) == list(old.index)
    assert list(new.columns) == list(old.columns)
    for column in old.columns:
        if column == schema.MONETARY:
            np.testing.assert_allclose(new[column], old[column], rtol=1e-12, atol=1e-6)
        else:
            pd.testing.assert_series_equal(new[column], old[column], check_exact=True)


def assert_same_log(old: pd.DataFrame, new: pl.DataFrame) -> None:
    converted = new.to_pandas()
    assert list(converted.columns) == list(old.columns)
    for column in old.columns:
        a, b = old[column], converted[column]
        if isinstance(a.dtype, pd.CategoricalDtype):
            a = a.astype("str")
        same = (a.isna() & b.isna()) | (a == b)
        assert bool(same.all()), f"{column}: {int((~same).sum())} lines differ"


def check_all_options(old_log: pd.DataFrame, new_log: pl.DataFrame, feature_sets, snapshot):
    for name, options in CLEANING.items():
        # The old code knew returns=drop (then the default) and net; returns=match came after
        # the engine change and is tested on its own (test_cleaning, test_real_data).
        options = {"returns": "drop", **options}
        old_clean, old_report = legacy_cleaning.clean_transactions(old_log, options)
        new_clean, new_report = clean_transactions(new_log, options)
        new_numbers = new_report.to_dict()
        for key in ("clean.purchases_reduced", "clean.cancellations_unmatched"):
            assert new_numbers.pop(key) == 0, (name, key)
        assert new_numbers == old_report.to_dict(), name
        assert_same_log(old_clean, new_clean)
        for feature_set, definition, snap in itertools.product(
            feature_sets, DEFINITIONS, [None, snapshot]
        ):
            cfg = {"name": feature_set, **definition}
            old = legacy_features.transaction_features(old_clean, cfg, snap)
            new = transaction_features(new_clean, cfg, snap)
            assert_same_features(old, new)


@pytest.fixture(scope="module")
def synthetic_log() -> pl.DataFrame:
    return generate_transactions(800, seed=5).transactions


def test_every_option_gives_the_old_results_on_a_dirty_synthetic_log(synthetic_log):
    check_all_options(as_legacy_log(synthetic_log), synthetic_log, ["rfm", "lrfmc"], "2024-06-30")


@pytest.mark.real_data
def test_the_uci_file_reads_the_same(online_retail, online_retail_path):
    columns = ONLINE_RETAIL_COLUMNS
    old = legacy_readers.read_transactions(online_retail_path, columns)
    assert_same_log(old, online_retail)


@pytest.mark.real_data
def test_every_option_gives_the_old_results_on_the_uci_file(online_retail):
    check_all_options(as_legacy_log(online_retail), online_retail, ["rfm"], "2011-06-01")


@pytest.mark.parametrize("name", ["log.csv", "log.csv.gz", "log.parquet", "log.xlsx"])
def test_small_files_read_the_same_in_every_format(tmp_path, name):
    frame = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536366", "C536379", "536367"],
            "StockCode": ["85123A", "22633", "D", "POST"],
            "Quantity": ["6", "6", "-1", "2"],
            "InvoiceDate": [
                "12/1/2010 8:26",
                "12/1/2010 8:28",
                "1/13/2011 17:05",
                "1/14/2011 9:00",
            ],
            "UnitPrice": ["2.55", "1.85", "27.5", "18"],
            "CustomerID": ["17850.0", "", "14527.0", " 14527 "],
        }
    )
    path = tmp_path / name
    if name.endswith(".xlsx"):
        frame.to_excel(path, index=False)
    elif name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    columns = {
        "invoice_id": "InvoiceNo",
        "stock_code": "StockCode",
        "quantity": "Quantity",
        "invoice_date": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
    }
    assert_same_log(
        legacy_readers.read_transactions(path, columns), read_transactions(path, columns)
    )

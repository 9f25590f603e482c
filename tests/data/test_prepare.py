"""The two ways from a dataset to features agree: the one-pass ``customer_table`` (read, clean
and aggregate in one query, no cleaned log kept) and ``prepare_data`` (the cleaned log in
memory for the insight tables, then the features)."""

from __future__ import annotations

import itertools

import pandas as pd
import polars as pl
import pytest

from src import columns as schema
from src.data import customer_features
from src.data.cleaning import RULES
from src.data.load import dataset_config
from src.data.prepare import (
    customer_table,
    in_partition,
    partitions_for,
    prepare_data,
    resolve_options,
)

CLEANING = {
    "default": {},
    "net": {"returns": "net"},
    "none": {f"drop_{rule}": False for rule in RULES},
    "no_duplicates_rule": {"drop_duplicates": False},
}
FEATURES = [
    {"name": name, "frequency": f, "monetary": m}
    for name, f, m in itertools.product(["rfm", "lrfmc"], ["invoices", "days"], ["total", "mean"])
]


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory):
    """A dirty synthetic log written to Parquet, read back as a transactions dataset."""
    from src.data.synthetic.generate import write_log

    path = tmp_path_factory.mktemp("shop") / "shop.parquet"
    write_log(path, n_customers=400, seed=9)
    return {"name": "shop", "type": "transactions", "path": str(path)}


@pytest.mark.parametrize("cleaning", CLEANING)
@pytest.mark.parametrize("snapshot", [None, "2024-09-30"])
def test_one_pass_table_equals_the_prepared_features(shop_file, cleaning, snapshot):
    dataset = dataset_config(shop_file)
    for features in FEATURES:
        _, clean, feats = resolve_options(dataset, CLEANING[cleaning], features)
        table = customer_table(dataset, clean, feats, snapshot)
        prepared = prepare_data(dataset, clean, feats, snapshot)
        pd.testing.assert_frame_equal(table.features, prepared.features, check_exact=True)
        assert table.cleaning.to_dict() == prepared.cleaning.to_dict()
        assert table.snapshot == prepared.snapshot


def test_the_prepared_log_keeps_only_the_columns_asked_for_once_features_are_built(shop_file):
    from src.jobs.finalise import INSIGHT_COLUMNS

    dataset = dataset_config(shop_file)
    _, clean, feats = resolve_options(dataset, "default", "lrfmc")
    full = prepare_data(dataset, clean, feats)
    slim = prepare_data(dataset, clean, feats, columns=INSIGHT_COLUMNS)
    kept = [c for c in full.transactions.columns if c in INSIGHT_COLUMNS]
    assert slim.transactions.columns == kept
    assert set(full.transactions.columns) - set(kept)  # something was let go
    assert slim.dataset.transactions is slim.transactions
    pd.testing.assert_frame_equal(slim.features, full.features, check_exact=True)
    assert slim.transactions.equals(full.transactions.select(kept))


def test_customer_features_takes_option_names_and_mappings(shop_file):
    by_name = customer_features(shop_file, "default", "lrfmc")
    by_mapping = customer_features(shop_file, {}, {"name": "lrfmc"})
    pd.testing.assert_frame_equal(by_name, by_mapping)
    assert list(by_name.columns) == list(schema.LRFMC_FEATURES)


def test_streaming_engine_gives_the_same_table(shop_file):
    dataset, clean, feats = resolve_options(shop_file, "default", "lrfmc")
    in_memory = customer_table(dataset, clean, feats)
    streamed = customer_table(dataset, clean, feats, streaming=True)
    pd.testing.assert_frame_equal(streamed.features, in_memory.features, check_exact=True)
    assert streamed.cleaning.to_dict() == in_memory.cleaning.to_dict()


def write_csv(path, customer_ids: list[str]):
    n = len(customer_ids)
    pl.DataFrame(
        {
            "customer": customer_ids,
            "invoice": [f"{500 + i}" for i in range(n)],
            "day": ["2024-01-0" + str(1 + i % 9) for i in range(n)],
            "qty": ["2"] * n,
            "price": ["1.5"] * n,
        }
    ).write_csv(path)
    columns = {
        "customer_id": "customer",
        "invoice_id": "invoice",
        "invoice_date": "day",
        "quantity": "qty",
        "unit_price": "price",
    }
    return {"type": "transactions", "path": str(path), "columns": columns}


@pytest.mark.parametrize(
    "odd",
    [" 17", "17.00", "NA", "17 "],
    ids=["leading space", "long suffix", "missing spelt NA", "trailing space"],
)
def test_ids_the_shortcut_cannot_handle_take_the_careful_path(tmp_path, odd):
    ids = [f"{i}.0" for i in range(10, 30)] + [odd]
    dataset = write_csv(tmp_path / "log.csv", ids)
    features = customer_features(dataset, "none", "rfm")
    expected = {str(i) for i in range(10, 30)} | ({"17"} if odd != "NA" else set())
    assert set(features.index) == expected


@pytest.mark.parametrize("cleaning", ["default", "net", "no_duplicates_rule"])
def test_a_log_split_into_customer_partitions_gives_the_same_table(shop_file, cleaning):
    dataset, clean, feats = resolve_options(shop_file, CLEANING[cleaning], "lrfmc")
    whole = customer_table(dataset, clean, feats, partitions=1)
    split = customer_table(dataset, clean, feats, partitions=3)
    pd.testing.assert_frame_equal(split.features, whole.features, check_exact=True)
    assert split.cleaning.to_dict() == whole.cleaning.to_dict()
    assert split.snapshot == whole.snapshot


def test_partitions_cover_every_customer_once(shop_file):
    lines = pl.read_parquet(shop_file["path"], columns=["customer_id"])
    parts = [lines.filter(in_partition(p, 3)) for p in range(3)]
    assert sum(p.height for p in parts) == lines.height
    assert all(p.height for p in parts)  # the hash spreads the customers
    ids = [set(p["customer_id"].drop_nulls()) for p in parts]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


def test_every_partition_takes_the_careful_path_when_one_needs_it(tmp_path):
    # Ids written as floats take the fast path's shortcut; one id with a space does not.
    ids = [f"{i}.0" for i in range(10, 60)] + [" 17"]
    dataset = write_csv(tmp_path / "log.csv", ids)
    whole = customer_features(dataset, "none", "rfm")
    dataset_cfg, clean, feats = resolve_options(dataset, "none", "rfm")
    for parts in (2, 5):
        split = customer_table(dataset_cfg, clean, feats, partitions=parts).features
        pd.testing.assert_frame_equal(split, whole, check_exact=True)


def test_a_large_log_is_split_by_its_line_count(monkeypatch):
    from src.data import prepare

    monkeypatch.setattr(prepare, "LINES_PER_PARTITION", 1_000)
    assert [partitions_for(n) for n in (0, 1, 1_000, 1_001, 9_500)] == [1, 1, 1, 2, 10]


def test_a_small_csv_is_not_counted_before_it_is_read(tmp_path, monkeypatch):
    from src.data import readers

    dataset = write_csv(tmp_path / "log.csv", [f"{i}" for i in range(10, 40)])
    monkeypatch.setattr(readers.LogScan, "lines", lambda self: pytest.fail("lines counted"))
    assert len(customer_features(dataset, "none", "rfm")) == 30

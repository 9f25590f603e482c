"""Dataset dispatch on dataset.type, paths and the synthetic dataset."""

from __future__ import annotations

import pandas as pd
import pytest

from src import columns as schema
from src.data.load import load_dataset
from src.errors import SegmentationError
from tests.data.uci_lines import (
    DATE_STYLES,
    SUMMARY_COLUMNS,
    UCI_COLUMNS,
    summary_frame,
    uci_frame,
    write,
)


def feature_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2], "R": [5, 30], "F": [2, 1], "M": [10.0, 99.5]})


FEATURE_COLUMNS = {
    "customer_id": "id",
    "recency_days": "R",
    "frequency": "F",
    "monetary": "M",
}


def test_summary_dataset_snapshot_is_latest_pull(tmp_path):
    write(summary_frame(), tmp_path / "s.csv")
    cfg = {"name": "shop", "type": "summary", "path": "s.csv", "columns": SUMMARY_COLUMNS}
    dataset = load_dataset(cfg, base_dir=tmp_path)
    assert dataset.kind == "summary"
    assert dataset.snapshot_date == pd.Timestamp("2024-04-01")


def test_feature_dataset(tmp_path):
    write(feature_frame(), tmp_path / "f.csv")
    cfg = {"type": "features", "path": str(tmp_path / "f.csv"), "columns": FEATURE_COLUMNS}
    dataset = load_dataset(cfg)
    assert dataset.kind == "features"
    assert dataset.customers.loc["2", schema.MONETARY] == 99.5


def test_relative_path_resolves_against_base_dir(tmp_path):
    write(uci_frame(DATE_STYLES["iso"]), tmp_path / "retail.csv")
    cfg = {"name": "uci", "type": "transactions", "path": "retail.csv", "columns": UCI_COLUMNS}
    dataset = load_dataset(cfg, base_dir=tmp_path)
    assert dataset.kind == "transactions"
    assert len(dataset.transactions) == 3


@pytest.mark.parametrize("output", ["transactions", "summary"])
def test_synthetic_dataset_keeps_ground_truth(output):
    cfg = {"type": "synthetic", "n_customers": 40, "seed": 3, "output": output}
    dataset = load_dataset(cfg)
    assert dataset.kind == output
    assert dataset.ground_truth is not None
    # A log's snapshot is the default rule on the cleaned log; a summary carries its own.
    assert (dataset.snapshot_date is not None) == (output == "summary")


def test_synthetic_segment_shares_plant_only_the_given_segments():
    cfg = {
        "type": "synthetic",
        "n_customers": 400,
        "seed": 3,
        "segment_shares": {"champions": 1, "hibernating": 3},
    }
    shares = load_dataset(cfg).ground_truth.value_counts(normalize=True)
    assert set(shares[shares > 0].index) == {"champions", "hibernating"}
    assert shares["hibernating"] == pytest.approx(0.75, abs=0.01)


def test_synthetic_segment_shares_must_be_a_mapping():
    cfg = {"type": "synthetic", "n_customers": 40, "segment_shares": [1, 2]}
    with pytest.raises(SegmentationError, match="dataset.segment_shares"):
        load_dataset(cfg)


def test_synthetic_summary_is_indexed_by_customer():
    cfg = {"type": "synthetic", "n_customers": 40, "seed": 3, "output": "summary"}
    customers = load_dataset(cfg).customers
    assert customers.index.name == schema.CUSTOMER_ID
    assert customers.index.is_unique


def test_missing_file_names_path_and_fixes(tmp_path):
    cfg = {"type": "transactions", "path": "nowhere/retail.csv.gz", "columns": UCI_COLUMNS}
    with pytest.raises(SegmentationError) as error:
        load_dataset(cfg, base_dir=tmp_path)
    message = str(error.value)
    assert str(tmp_path / "nowhere" / "retail.csv.gz") in message
    assert "SEGMENTATION_DATA_DIR" in message
    assert "dataset.path=" in message


def test_unknown_dataset_type():
    with pytest.raises(
        SegmentationError, match="'sql'.*synthetic, transactions, summary, features"
    ):
        load_dataset({"type": "sql", "path": "x"})


def test_missing_path_is_reported():
    with pytest.raises(SegmentationError, match="no file path.*dataset.path="):
        load_dataset({"type": "transactions", "path": None})

"""Writing the synthetic log to Parquet (``write_log``, ``python -m src.data.synthetic``) and
reading it back as a transactions dataset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from src.columns import CUSTOMER_ID, INVOICE_ID
from src.config import PROJECT_ROOT
from src.data.load import load_dataset
from src.data.synthetic import generate, generate_transactions
from src.data.synthetic.generate import labels_path, write_log
from src.errors import SegmentationError


def test_one_chunk_writes_exactly_the_generated_log(tmp_path):
    log, labels = write_log(tmp_path / "shop.parquet", n_customers=300, seed=5)
    data = generate_transactions(300, seed=5)
    assert pl.read_parquet(log).equals(data.transactions)
    written = pl.read_parquet(labels)
    assert written[CUSTOMER_ID].to_list() == list(data.labels.index)
    assert written["segment"].to_list() == list(data.labels.astype(str))


def test_row_groups_of_a_chunk_together_are_exactly_the_generated_log(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "ROW_GROUP_LINES", 1000)
    log, _ = write_log(tmp_path / "shop.parquet", n_customers=300, seed=5)
    groups = pq.ParquetFile(log).metadata
    assert groups.num_row_groups > 1
    assert max(groups.row_group(i).num_rows for i in range(groups.num_row_groups)) == 1000
    assert pl.read_parquet(log).equals(generate_transactions(300, seed=5).transactions)


def test_a_folder_as_output_is_a_user_error(tmp_path):
    with pytest.raises(SegmentationError, match="is a folder"):
        write_log(tmp_path, n_customers=10)


def test_an_unwritable_output_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SegmentationError, match="cannot write the synthetic log"):
        write_log(tmp_path / "file" / "shop.parquet", n_customers=10)


@pytest.fixture(scope="module")
def chunked(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("chunks") / "shop.parquet"
    write_log(path, n_customers=700, seed=5, chunk_customers=300)
    return path


def test_chunks_number_customers_and_invoices_apart(chunked):
    log = pl.read_parquet(chunked)
    customers = log[CUSTOMER_ID].drop_nulls().unique().sort()
    assert customers.to_list() == [f"C{i:06d}" for i in range(700)]
    numbers = log[INVOICE_ID].str.strip_prefix("C").cast(pl.Int64)
    per_invoice = log.group_by(INVOICE_ID).agg(pl.col(CUSTOMER_ID).drop_nulls().n_unique())
    assert numbers.min() == 500_001
    assert numbers.n_unique() == log[INVOICE_ID].n_unique()
    assert per_invoice[CUSTOMER_ID].max() == 1


def test_the_written_log_loads_with_its_planted_segments(chunked):
    dataset = load_dataset(
        {
            "type": "transactions",
            "path": str(chunked),
            "labels": str(labels_path(chunked)),
        }
    )
    assert dataset.transactions.height == pl.read_parquet(chunked).height
    known = set(dataset.transactions[CUSTOMER_ID].drop_nulls().unique().to_list())
    assert set(dataset.ground_truth.index) == known


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "src.data.synthetic", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_command_line_writes_the_log_and_its_labels(tmp_path):
    proc = run("n_customers=200", "seed=2", f"output={tmp_path / 'log.parquet'}")
    assert proc.returncode == 0, proc.stderr
    assert pl.read_parquet(tmp_path / "log.parquet").equals(
        generate_transactions(200, seed=2).transactions
    )
    assert (tmp_path / "log.labels.parquet").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["n_customers=10"], "output=<file.parquet> is required"),
        (["n_customers=ten", "output=x.parquet"], "n_customers"),
        (["n_customers"], "key=value"),
    ],
)
def test_command_line_errors_are_one_line(tmp_path, args, message):
    proc = run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr

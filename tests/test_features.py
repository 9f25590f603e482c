"""``python -m src.features``: the per-customer feature table from the command line."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from src.config import PROJECT_ROOT
from src.data import customer_features


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "src.features", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_writes_the_table_customer_features_returns(tmp_path, suffix):
    output = tmp_path / f"features{suffix}"
    proc = run("dataset.n_customers=300", "features=lrfmc", f"output={output}")
    assert proc.returncode == 0, proc.stderr
    assert "cleaning duplicates" in proc.stdout
    if suffix == ".parquet":
        written = pd.read_parquet(output)
    else:
        written = pd.read_csv(output, dtype={"customer_id": "str"})
    expected = customer_features(
        {"type": "synthetic", "n_customers": 300, "seed": 42}, "default", "lrfmc"
    )
    pd.testing.assert_frame_equal(
        written.set_index("customer_id"), expected, check_exact=False, check_index_type=False
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dataset=synthetic"], "output=<file> is required"),
        (["output=x.txt"], "must end in .parquet or .csv"),
        (["dataset=nowhere", "output=x.parquet"], "dataset/nowhere"),
        (["features"], "key=value"),
        (["partitions=two", "output=x.parquet"], "partitions=two is not a whole number"),
        (["partitions=0", "output=x.parquet"], "partitions=0 is not allowed"),
    ],
)
def test_errors_are_one_line(args, message):
    proc = run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_log_read_in_customer_partitions_writes_the_same_table(tmp_path):
    from src.data.synthetic.generate import write_log

    log = tmp_path / "shop.parquet"
    write_log(log, n_customers=300, seed=5)
    dataset = ["dataset=synthetic_parquet", f"dataset.path={log}", "features=lrfmc"]
    whole, split = tmp_path / "whole.parquet", tmp_path / "split.parquet"
    assert run(*dataset, f"output={whole}").returncode == 0
    proc = run(*dataset, "partitions=3", f"output={split}")
    assert proc.returncode == 0, proc.stderr
    assert "(3 customer partitions)" in proc.stdout
    assert "customer partition 2/3 done in" in proc.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(split), pd.read_parquet(whole))


def test_a_second_pass_over_the_log_is_counted_as_such(tmp_path):
    import polars as pl

    from src.data.synthetic.generate import write_log

    log = tmp_path / "shop.parquet"
    write_log(log, n_customers=300, seed=5)
    lines = pl.read_parquet(log)
    date = next(c for c in lines.columns if lines[c].dtype == pl.Datetime)
    # One mistyped line far in the future: the snapshot comes from the plausible range, and
    # the features are built again as of it.
    stray = lines.head(1).with_columns(pl.lit(pd.Timestamp("2099-01-01")).alias(date))
    pl.concat([lines, stray.cast(lines.schema)]).write_parquet(log)
    proc = run(
        "dataset=synthetic_parquet",
        f"dataset.path={log}",
        "partitions=3",
        f"output={tmp_path / 'out.parquet'}",
    )
    assert proc.returncode == 0, proc.stderr
    assert "customer partition 3/3 done in" in proc.stdout
    assert "customer partition 1/3 (pass 2) done in" in proc.stdout

"""Read + classic cleaning + RFM on the real UCI Online Retail file, against a polars query.

Both sides produce the same table: one row per customer with recency (whole days elapsed to
the 2011-12-10 snapshot), frequency (distinct invoices) and monetary (total spend), after the
classic cleaning (customer id present, no "C" invoices, quantity > 0, unit price > 0). They are
checked to agree before anything is timed.

"ours" is the project's own entry, ``src.data.prepare.customer_table``: the dataset read by
column mapping with the id rule and checked conversions, the cleaning rules with the per-rule
counts of the cleaning report and customer counts, and the features, as one polars query. The
peer is a hand-written polars lazy query doing the same filtering and aggregation (no counts,
no checks).

Timing is in-process wall clock (``time.perf_counter``), best and median of ``--repeat``
rounds, and the process's CPU time (``time.process_time``, all threads); each round runs
both, in turn, so background load hits them alike.

    .venv/bin/python benchmarks/bench_features.py                 # the .csv.gz as shipped
    .venv/bin/python benchmarks/bench_features.py --repeat 21 --uncompressed
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from src import columns as schema  # noqa: E402
from src.data.prepare import customer_table, resolve_options  # noqa: E402

SNAPSHOT = pd.Timestamp("2011-12-10")
FILE_NAME = "online_retail.csv.gz"
# Only the columns RFM needs; neither side reads anything else.
COLUMNS = {
    "invoice_id": "InvoiceNo",
    "quantity": "Quantity",
    "invoice_date": "InvoiceDate",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
}


def ours_options(path: Path):
    dataset = {"name": "online_retail", "type": "transactions", "path": str(path)}
    return resolve_options({**dataset, "columns": COLUMNS}, "classic", "rfm")


def ours(options) -> pd.DataFrame:
    return customer_table(*options, SNAPSHOT).features


PEER_TYPES = {
    "InvoiceNo": pl.String,
    "Quantity": pl.Float64,
    "InvoiceDate": pl.String,
    "UnitPrice": pl.Float64,
    "CustomerID": pl.Float64,
}


def per_customer(lines: pl.LazyFrame, snapshot: pl.Expr) -> pl.LazyFrame:
    """The peers' RFM table of the lines that count."""
    return (
        lines.group_by("CustomerID")
        .agg(
            pl.col("InvoiceDate").max().alias("last"),
            pl.col("InvoiceNo").n_unique().alias(schema.FREQUENCY),
            pl.col("amount").sum().alias(schema.MONETARY),
        )
        .with_columns(
            (snapshot - pl.col("last")).dt.total_days().alias(schema.RECENCY),
            pl.col("CustomerID").cast(pl.Int64).cast(pl.String).alias(schema.CUSTOMER_ID),
        )
        .select(schema.CUSTOMER_ID, *schema.RFM_FEATURES)
    )


def polars_query(path: Path) -> pl.DataFrame:
    frame = pl.scan_csv(path, schema_overrides=PEER_TYPES)
    snapshot = pl.lit(SNAPSHOT.to_pydatetime())
    return (
        frame.filter(
            pl.col("CustomerID").is_not_null()
            & ~pl.col("InvoiceNo").str.starts_with("C")
            & (pl.col("Quantity") > 0)
            & (pl.col("UnitPrice") > 0)
        )
        .with_columns(
            pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S"),
            (pl.col("Quantity") * pl.col("UnitPrice")).alias("amount"),
        )
        .filter(pl.col("InvoiceDate") < snapshot)
        .pipe(per_customer, snapshot)
        .collect()
    )


def polars_query_with_counts(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The same table, and the cleaning report's numbers from the same read: the lines each
    rule removes (in order), the lines kept, the lines after the snapshot, and the customers
    before and after cleaning. Two queries collected together, as ours does."""
    snapshot = SNAPSHOT.to_pydatetime()
    lines = pl.scan_csv(path, schema_overrides=PEER_TYPES).with_columns(
        pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S"),
        (pl.col("Quantity") * pl.col("UnitPrice")).alias("amount"),
    )
    known = pl.col("CustomerID").is_not_null()
    kept_cancellations = known & ~pl.col("InvoiceNo").str.starts_with("C")
    kept_quantity = kept_cancellations & (pl.col("Quantity") > 0)
    keep = kept_quantity & (pl.col("UnitPrice") > 0)
    table = lines.filter(keep & (pl.col("InvoiceDate") < snapshot)).pipe(
        per_customer, pl.lit(snapshot)
    )
    counts = lines.select(
        pl.len().alias("rows_in"),
        (~known).sum().alias("missing_customer_id"),
        (known & ~kept_cancellations).sum().alias("cancellations"),
        (kept_cancellations & ~kept_quantity).sum().alias("non_positive_quantity"),
        (kept_quantity & ~keep).sum().alias("non_positive_price"),
        (keep & (pl.col("InvoiceDate") >= snapshot)).sum().alias("after_snapshot"),
        pl.col("CustomerID").drop_nulls().n_unique().alias("customers_in"),
        pl.col("CustomerID").filter(keep).n_unique().alias("customers_out"),
    )
    return tuple(pl.collect_all([table, counts]))


def check_same_result(path: Path, options) -> None:
    mine = ours(options)
    theirs = polars_query(path).to_pandas().set_index(schema.CUSTOMER_ID).sort_index()
    theirs = theirs.astype("float64")
    assert mine.index.tolist() == theirs.index.tolist(), "customer sets differ"
    for column in (schema.RECENCY, schema.FREQUENCY):
        assert (mine[column] == theirs[column]).all(), column
    # Money: ours is summed exactly (in millionths), the peer adds floats.
    np.testing.assert_allclose(mine[schema.MONETARY], theirs[schema.MONETARY], rtol=1e-12)
    values = mine[schema.RECENCY]
    assert (round(values.mean(), 2), values.median(), values.max()) == (92.06, 50, 373)
    assert len(mine) == 4_338
    table, counts = polars_query_with_counts(path)
    assert table.sort(schema.CUSTOMER_ID)[schema.CUSTOMER_ID].to_list() == mine.index.tolist()
    report = customer_table(*options, SNAPSHOT).cleaning
    removed = report.to_frame()["rows_removed"]
    theirs = counts.row(0, named=True)
    assert theirs["rows_in"] == report.rows_in
    assert (theirs["customers_in"], theirs["customers_out"]) == (
        report.customers_in,
        report.customers_out,
    )
    for rule in (
        "missing_customer_id",
        "cancellations",
        "non_positive_quantity",
        "non_positive_price",
        "after_snapshot",
    ):
        assert theirs[rule] == removed[rule], rule


def time_rounds(variants: dict[str, Callable[[], object]], repeat: int) -> pd.DataFrame:
    """Wall clock and CPU time (all threads of the process) per round, best and median.

    On a shared machine the wall clock also counts waiting for a core; the CPU time is the
    work itself, so its ratio moves less with the background load.
    """
    runs: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, run in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            runs[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return pd.DataFrame(
        {
            "best_s": {n: min(t) for n, t in runs.items()},
            "median_s": {n: statistics.median(t) for n, t in runs.items()},
            "cpu_best_s": {n: min(t) for n, t in cpu.items()},
        }
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, pandas {pd.__version__}, "
        f"polars {pl.__version__}, numpy {np.__version__}; load average {load}"
    )


def compare(title: str, path: Path, repeat: int) -> None:
    options = ours_options(path)
    check_same_result(path, options)
    peer = "polars: scan_csv lazy query"
    rounds = time_rounds(
        {
            "ours: customer_table (read + classic clean + rfm)": lambda: ours(options),
            peer: lambda: polars_query(path),
            "polars: the same query + the report's counts": lambda: polars_query_with_counts(path),
        },
        repeat,
    )
    rounds = rounds.assign(
        vs_polars=rounds["best_s"] / rounds.loc[peer, "best_s"],
        cpu_vs_polars=rounds["cpu_best_s"] / rounds.loc[peer, "cpu_best_s"],
    )
    print(f"\n{title}")
    print(rounds.round(3).to_string())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=11, help="timed rounds (default 11)")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("SEGMENTATION_DATA_DIR", str(REPO_ROOT / ".." / "shared" / "data")),
        help="folder holding online_retail.csv.gz (default $SEGMENTATION_DATA_DIR or ../shared/data)",
    )
    parser.add_argument(
        "--uncompressed", action="store_true", help="also time a decompressed temporary copy"
    )
    args = parser.parse_args(argv)
    path = (REPO_ROOT / args.data_dir / FILE_NAME).resolve()
    if not path.is_file():
        sys.exit(f"error: {path} not found; pass --data-dir or set SEGMENTATION_DATA_DIR")
    print(f"machine: {machine()}")
    print(f"file: {path} ({path.stat().st_size:,} bytes), best/median of {args.repeat} rounds")
    compare("End to end on the .csv.gz", path, args.repeat)
    if args.uncompressed:
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "online_retail.csv"
            with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            compare("End to end on a decompressed copy", plain, args.repeat)
    print(f"\nload average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

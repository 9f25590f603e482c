"""Read + classic cleaning + RFM on the real UCI Online Retail file, against polars.

Every variant produces the same table: one row per customer with recency (whole days elapsed
to the 2011-12-10 snapshot), frequency (distinct invoices) and monetary (total spend), after the
classic cleaning (customer id present, no "C" invoices, quantity > 0, unit price > 0). The
variants are checked to agree before anything is timed.

Timing is in-process wall clock (``time.perf_counter``), best and median of ``--repeat``
rounds; each round runs every variant once, in turn, so background load hits all of them alike.

    .venv/bin/python benchmarks/bench_features.py            # the .csv.gz as shipped
    .venv/bin/python benchmarks/bench_features.py --repeat 15 --uncompressed

polars runs the whole job as one lazy query from ``scan_csv`` (projection and predicate
pushdown). ``--uncompressed`` adds a round on a decompressed temporary copy, where neither
side pays for gzip.
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
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from src import columns as schema  # noqa: E402
from src.config import compose_config  # noqa: E402
from src.data.cleaning import clean_transactions  # noqa: E402
from src.data.features import transaction_features  # noqa: E402
from src.data.readers import read_transactions  # noqa: E402

CLASSIC_CLEANING = compose_config("config", "cleaning=classic").cleaning


def rfm(cleaned: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    return transaction_features(cleaned, "rfm", snapshot)


SNAPSHOT = pd.Timestamp("2011-12-10")
FILE_NAME = "online_retail.csv.gz"
# Only the columns RFM needs; the loader reads nothing else.
COLUMNS = {
    "invoice_id": "InvoiceNo",
    "quantity": "Quantity",
    "invoice_date": "InvoiceDate",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
}


# -- the variants ----------------------------------------------------------------------------


def ours(path: Path) -> pd.DataFrame:
    """The project's own path: loader, cleaning rules with their report, vectorised RFM."""
    tx = read_transactions(path, COLUMNS)
    cleaned, _ = clean_transactions(tx, CLASSIC_CLEANING)
    return rfm(cleaned, SNAPSHOT)


def polars_types() -> dict:
    import polars as pl

    return {
        "InvoiceNo": pl.String,
        "Quantity": pl.Float64,
        "InvoiceDate": pl.String,
        "UnitPrice": pl.Float64,
        "CustomerID": pl.Float64,
    }


def polars_read(path: Path):
    import polars as pl

    types = polars_types()
    return pl.read_csv(path, columns=list(types), schema_overrides=types)


def polars_query(path: Path):
    import polars as pl

    frame = pl.scan_csv(path, schema_overrides=polars_types())
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
        .group_by("CustomerID")
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
        .collect()
    )


def rfm_with_label_groupby(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Built-in reductions grouped on the id labels: what ``rfm`` did before integer codes."""
    purchases = cleaned[cleaned[schema.INVOICE_DATE] < SNAPSHOT]
    by_customer = purchases.groupby(schema.CUSTOMER_ID, sort=True).agg(
        last=(schema.INVOICE_DATE, "max"),
        orders=(schema.INVOICE_ID, "nunique"),
        spend=(schema.AMOUNT, "sum"),
    )
    return pd.DataFrame(
        {
            schema.RECENCY: (SNAPSHOT - by_customer["last"]).dt.days,
            schema.FREQUENCY: by_customer["orders"],
            schema.MONETARY: by_customer["spend"],
        }
    )


def rfm_with_lambdas(cleaned: pd.DataFrame) -> pd.DataFrame:
    """The per-group Python callbacks the vectorised ``rfm`` avoids."""
    purchases = cleaned[cleaned[schema.INVOICE_DATE] < SNAPSHOT]
    return purchases.groupby(schema.CUSTOMER_ID).agg(
        **{
            schema.RECENCY: (
                schema.INVOICE_DATE,
                lambda d: (SNAPSHOT - d.max()).days,
            ),
            schema.FREQUENCY: (schema.INVOICE_ID, lambda s: s.nunique()),
            schema.MONETARY: (schema.AMOUNT, lambda a: a.sum()),
        }
    )


def pandas_default_read(path: Path) -> pd.DataFrame:
    """What ``pd.read_csv`` does without hints: C parser, every column, inferred types."""
    return pd.read_csv(path)


def pandas_pyarrow_read(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path,
        engine="pyarrow",
        usecols=list(COLUMNS.values()),
        dtype={"InvoiceNo": "str", "CustomerID": "str"},
    )


# -- timing ----------------------------------------------------------------------------------


def time_rounds(variants: dict[str, Callable[[], object]], repeat: int) -> pd.DataFrame:
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            runs[name].append(time.perf_counter() - start)
    return pd.DataFrame(
        {
            "best_s": {n: min(t) for n, t in runs.items()},
            "median_s": {n: statistics.median(t) for n, t in runs.items()},
        }
    )


def check_same_result(path: Path) -> None:
    ours_result = ours(path)
    theirs = polars_query(path).to_pandas().set_index(schema.CUSTOMER_ID)
    theirs = theirs.sort_index().astype("float64")
    assert ours_result.index.tolist() == theirs.index.tolist(), "customer sets differ"
    np.testing.assert_allclose(ours_result.to_numpy(), theirs.to_numpy(), rtol=1e-9)


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
    import polars as pl
    import pyarrow as pa

    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, pandas {pd.__version__}, pyarrow {pa.__version__}, "
        f"polars {pl.__version__}, numpy {np.__version__}; load average {load}"
    )


def report(title: str, table: pd.DataFrame, reference: str) -> None:
    table = table.assign(vs_polars=table["best_s"] / table.loc[reference, "best_s"])
    print(f"\n{title}")
    print(table.to_markdown(floatfmt=".3f") if _has_tabulate() else table.round(3).to_string())


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def compare_end_to_end(title: str, path: Path, repeat: int) -> None:
    """Check both sides agree, then time ours against polars on the same file."""
    check_same_result(path)
    theirs = "polars: scan_csv lazy query"
    rounds = time_rounds(
        {
            "ours: read + clean + rfm": lambda: ours(path),
            theirs: lambda: polars_query(path),
        },
        repeat,
    )
    report(title, rounds, theirs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed rounds (default 9)")
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

    compare_end_to_end("End to end on the .csv.gz", path, repeat=args.repeat)

    tx = read_transactions(path, COLUMNS)
    cleaned, _ = clean_transactions(tx, CLASSIC_CLEANING)
    compressed = path.read_bytes()
    stages = time_rounds(
        {
            "read: read_transactions (pyarrow, 5 columns typed)": lambda: read_transactions(
                path, COLUMNS
            ),
            "read: pd.read_csv(engine='pyarrow', usecols, dtype)": lambda: pandas_pyarrow_read(
                path
            ),
            "read: pd.read_csv() defaults": lambda: pandas_default_read(path),
            "read: gzip inflate only (zlib, no parsing)": lambda: zlib.decompress(
                compressed, wbits=31
            ),
            "read: polars read_csv only (5 columns)": lambda: polars_read(path),
            "clean: classic rules + report": lambda: clean_transactions(tx, CLASSIC_CLEANING),
            "rfm: integer codes (rfm)": lambda: rfm(cleaned, SNAPSHOT),
        },
        args.repeat,
    )
    print("\nStages")
    print(stages.round(3).to_string())

    # The group-by variants get ids as plain ``str``, as the loader gave them before it
    # switched to categoricals.
    as_text = cleaned.astype({schema.CUSTOMER_ID: "str", schema.INVOICE_ID: "str"})
    lambdas = time_rounds(
        {
            "rfm: integer codes (rfm)": lambda: rfm(cleaned, SNAPSHOT),
            "rfm: groupby(labels).agg(max, nunique, sum)": lambda: rfm_with_label_groupby(as_text),
            "rfm: groupby with lambdas": lambda: rfm_with_lambdas(as_text),
        },
        max(3, args.repeat // 3),
    )
    print("\nRFM ways on the same cleaned log")
    print(lambdas.round(3).to_string())
    best = lambdas["best_s"]
    print(f"label groupby / codes: {best.iloc[1] / best.iloc[0]:.1f}x")
    print(f"lambdas / codes: {best.iloc[2] / best.iloc[0]:.1f}x")

    print("\nMemory of the id columns (MB, deep)")
    as_text = tx.astype({schema.CUSTOMER_ID: "str", schema.INVOICE_ID: "str"})
    memory = pd.DataFrame(
        {
            "categorical (loader)": tx[[schema.CUSTOMER_ID, schema.INVOICE_ID]].memory_usage(
                index=False, deep=True
            ),
            "str": as_text[[schema.CUSTOMER_ID, schema.INVOICE_ID]].memory_usage(
                index=False, deep=True
            ),
        }
    )
    print((memory / 1e6).round(2).to_string())

    if args.uncompressed:
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "online_retail.csv"
            with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            compare_end_to_end("End to end on a decompressed copy", plain, repeat=args.repeat)
    print(f"\nload average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

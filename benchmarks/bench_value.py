"""What the ``value`` extra costs: install size, import time, and the value step's time on UCI
Online Retail (4,338 customers) and on synthetic shops of up to a million customers.

    .venv/bin/python benchmarks/bench_value.py                    # size, imports, UCI
    .venv/bin/python benchmarks/bench_value.py --synthetic 100000 1000000
    .venv/bin/python -m src.data.synthetic n_customers=1000000 output=/tmp/shop_1m.parquet
    /usr/bin/time -v .venv/bin/python benchmarks/bench_value.py --skip-uci --log /tmp/shop_1m.parquet
    /usr/bin/time -v .venv/bin/python benchmarks/bench_value.py --only-uci   # whole process

Install size sums the files of every distribution the extra pulls in that the base install does
not (walked from the installed metadata). Import time is a fresh interpreter each, best of
``--repeat``, against importing scikit-learn's KMeans in the same run (a peer every sweep pays).
Stage times are in-process wall clock (``time.perf_counter``) of one run each: the MAP fit's
first call also compiles PyTensor's C code, which is cached in ~/.pytensor afterwards, so the
first UCI round is reported apart from a second one.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import pandas as pd  # noqa: E402

from src.config.schema import ValueConfig  # noqa: E402


def _requirements(name: str, extras: set[str] = frozenset()) -> set[str]:
    out = set()
    for req in metadata.requires(name) or []:
        base, _, marker = req.partition(";")
        if "extra ==" in marker and not any(f'extra == "{x}"' in marker for x in extras):
            continue
        if marker and "extra ==" not in marker and "python_version" not in marker:
            continue
        out.add(re.split(r"[\s\[<>=!~(]", base.strip(), maxsplit=1)[0].lower().replace("_", "-"))
    return out


def _closure(roots: set[str]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo.extend(_requirements(name))
    return seen


def _size(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def install_size() -> tuple[float, list[tuple[str, float]]]:
    base = _closure(_requirements("customer-segmentation", {"test", "team"}))
    extra = _closure({"pymc-marketing", "polars"}) - base
    sizes = sorted(((n, _size(n) / 1e6) for n in extra), key=lambda x: -x[1])
    return sum(s for _, s in sizes), sizes


def import_seconds(statement: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs)


def stages(log, snapshot, assignments, cfg: ValueConfig, by_segment=False) -> dict[str, Any]:
    """Each stage's (wall, CPU) seconds: CPU is the process's user + system time (all threads),
    which a loaded machine inflates much less than wall clock."""
    from src.value import require
    from src.value.customer import customer_value
    from src.value.holdout import temporal_holdout
    from src.value.models import fit_value_models
    from src.value.segments import segment_value
    from src.value.summary import btyd_summary, purchase_days

    out: dict[str, Any] = {}
    results = {}

    def timed(name, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        results[name] = fn()
        out[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return results[name]

    timed("import pymc-marketing", require)
    daily = timed("purchase days (polars)", lambda: purchase_days(log))
    summary = timed("BTYD summary (rfm_summary)", lambda: btyd_summary(daily, snapshot))
    fit = f"fit {cfg.model.value} + Gamma-Gamma ({cfg.fit.value})"
    params = timed(fit, lambda: fit_value_models(summary, cfg))
    values = timed(
        "P(alive), purchases, CLV per customer", lambda: customer_value(summary, params, cfg)
    )
    table = timed(
        "per segment",
        lambda: segment_value(values, assignments.reindex(values.index), cfg.at_risk_p_alive),
    )
    if cfg.holdout_months:
        timed("holdout (split, refit, predict)", lambda: temporal_holdout(daily, snapshot, cfg))
    out["total"] = tuple(sum(x) for x in zip(*out.values(), strict=True))
    out["customers"] = len(summary)
    if by_segment:
        for name, p_alive in table.set_index("segment_name")["mean_p_alive"].items():
            out[f"mean P(alive), {name}"] = p_alive
    return out


def _quartile_segments(index: pd.Index, recency: pd.Series) -> pd.DataFrame:
    seg = pd.qcut(recency.rank(method="first"), 4, labels=False).astype(int)
    return pd.DataFrame(
        {"segment_id": seg, "segment_name": seg.map(lambda s: f"R{s}")}, index=index
    )


def uci(cfg: ValueConfig) -> dict[str, float]:
    from src.config import compose_config
    from src.data.prepare import prepare_data
    from src.jobs.segment import load_options

    options = load_options(compose_config("config", "+experiment=online_retail_rfm"))
    data = prepare_data(options.dataset, options.cleaning, options.features, options.snapshot_date)
    segments = _quartile_segments(data.features.index, data.features["recency_days"])
    return stages(data.transactions, data.snapshot, segments, cfg)


def synthetic(n: int, cfg: ValueConfig) -> dict[str, float]:
    from src.data.synthetic import generate_transactions

    t = time.perf_counter()
    shop = generate_transactions(n_customers=n, seed=0, dirty=False)
    made = time.perf_counter() - t
    tx = shop.transactions
    ids = pd.Index(tx["customer_id"].astype(str).unique(), name="customer_id")
    last = tx.groupby(tx["customer_id"].astype(str))["invoice_date"].max().reindex(ids)
    out = stages(tx, shop.snapshot_date, _quartile_segments(ids, -last.astype("int64")), cfg)
    out["lines"] = len(tx)
    out["generate the log (not the extra's)"] = made
    return out


def from_log(path: Path, cfg: ValueConfig, clean: bool = True) -> dict[str, float]:
    """The value step on a log written by ``python -m src.data.synthetic ... output=PATH``.

    The log is read and cleaned as a job does (default cleaning; ``clean=False`` for a log
    cleaned beforehand, so the process's peak memory is the value step's), timed apart as not
    the extra's; the snapshot is midnight after the last line. The planted segments beside it
    (``<name>.labels.parquet``) are the segmentation.
    """
    import polars as pl

    from src.config.schema import CleaningConfig
    from src.data.cleaning import clean_transactions
    from src.data.readers import read_transactions

    t = time.perf_counter()
    cleaned = read_transactions(path, None)
    if clean:
        cleaned, _ = clean_transactions(cleaned, CleaningConfig())
    snapshot = pd.Timestamp(cleaned["invoice_date"].max()).normalize() + pd.Timedelta(days=1)
    labels = pl.read_parquet(path.with_name(path.name.removesuffix(".parquet") + ".labels.parquet"))
    ids = labels["customer_id"].cast(pl.String).to_pandas()
    segments = labels["segment"].to_pandas()
    codes = {name: i for i, name in enumerate(sorted(segments.unique()))}
    planted = pd.DataFrame(
        {"segment_id": segments.map(codes).to_numpy(), "segment_name": segments.to_numpy()},
        index=pd.Index(ids, name="customer_id"),
    )
    prepared = time.perf_counter() - t
    rss_before = _peak_rss_gb()
    out = stages(cleaned, snapshot, planted, cfg, by_segment=True)
    out["lines"] = len(cleaned)
    out["read (and clean) the log (not the extra's)"] = prepared
    out["peak RSS before the value step (GB)"] = rss_before
    out["peak RSS at the end (GB)"] = _peak_rss_gb()
    return out


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _print(title: str, figures: dict[str, float]) -> None:
    print(f"\n{title}")
    for key, value in figures.items():
        if key in ("customers", "lines"):
            shown = f"{value:,.0f}"
        elif key.startswith("mean P(alive)"):
            shown = f"{value:.3f}"
        elif key.endswith("(GB)"):
            shown = f"{value:.2f}"
        elif isinstance(value, tuple):
            shown = f"{value[0]:.2f} s (CPU {value[1]:.2f} s)"
        else:
            shown = f"{value:.2f} s"
        print(f"  {key:<45} {shown:>28}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--synthetic", type=int, nargs="*", default=[])
    parser.add_argument("--only-uci", action="store_true")
    parser.add_argument("--no-holdout", action="store_true")
    parser.add_argument("--skip-uci", action="store_true")
    parser.add_argument(
        "--log",
        type=Path,
        nargs="*",
        default=[],
        help="Parquet logs written by python -m src.data.synthetic (labels beside them)",
    )
    parser.add_argument(
        "--cleaned", action="store_true", help="the --log files are cleaned already"
    )
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, {platform.machine()}, pymc-marketing "
        f"{metadata.version('pymc-marketing')}, pymc {metadata.version('pymc')}, "
        f"pytensor {metadata.version('pytensor')}"
    )
    cfg = ValueConfig(enabled=True, holdout_months=0 if args.no_holdout else 3)
    if not (args.only_uci or args.skip_uci):
        total, sizes = install_size()
        print(
            f"\nInstall size of the extra beyond the base install: {total:,.0f} MB "
            f"({len(sizes)} distributions)"
        )
        for name, mb in sizes[:12]:
            print(f"  {name:<28} {mb:8.1f} MB")
        peer = import_seconds("from sklearn.cluster import KMeans", args.repeat)
        value = import_seconds("from pymc_marketing import clv", args.repeat)
        print(
            f"\nImport, fresh interpreter, best of {args.repeat}: pymc_marketing.clv "
            f"{value:.2f} s; sklearn KMeans {peer:.2f} s (ratio {value / peer:.1f}x)"
        )
    if not args.skip_uci:
        _print("UCI Online Retail, first round (PyTensor compiles)", uci(cfg))
        _print("UCI Online Retail, second round (compiled code cached)", uci(cfg))
    for n in args.synthetic:
        _print(
            f"Synthetic shop, {n:,} customers (no holdout)",
            synthetic(n, ValueConfig(enabled=True, holdout_months=0)),
        )
    for path in args.log:
        holdout = "no holdout" if args.no_holdout else f"{cfg.holdout_months}-month holdout"
        _print(
            f"Synthetic shop from {path} ({holdout})", from_log(path, cfg, clean=not args.cleaned)
        )


if __name__ == "__main__":
    main()

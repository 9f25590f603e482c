"""The synthetic generator writing its log to Parquet: wall time, CPU time, peak RSS.

Each round runs ``python -m src.data.synthetic n_customers=N output=...`` as a whole process
under ``/usr/bin/time -v`` and prints its wall time, user + system CPU time, peak RSS and the
load average around it. With ``--peer DIR`` (another checkout of the project, e.g. the commit
before a change, exported with ``git archive <commit> | tar -x -C DIR``) each round also runs
that checkout's generator, in turn with ours, so background load hits both alike; the two logs
and label files are then checked to be identical, and the ratios ours / peer are printed.

    python benchmarks/bench_generator.py --customers 1000000
    python benchmarks/bench_generator.py --customers 1000000 --peer /tmp/gen_before --repeat 3
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    wall: float  # s
    cpu: float  # user + system, s
    user: float
    system: float
    rss_gb: float
    load: tuple[float, float]  # 1-minute load average before and after


def measure(checkout: Path, n: int, output: Path, extra: list[str]) -> Run:
    before = os.getloadavg()[0]
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "src.data.synthetic",
        f"n_customers={n}",
        f"output={output}",
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {checkout}:\n{proc.stderr[-3000:]}")

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (\S+)", proc.stderr).group(1)

    parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    user, system = float(field("User time (seconds)")), float(field("System time (seconds)"))
    return Run(
        wall=sum(p * 60**i for i, p in enumerate(reversed(parts))),
        cpu=user + system,
        user=user,
        system=system,
        rss_gb=int(field("Maximum resident set size (kbytes)")) / 1024**2,
        load=(before, os.getloadavg()[0]),
    )


def same_files(a: Path, b: Path) -> bool:
    import polars as pl

    def labels(p: Path) -> Path:
        return p.with_name(p.name.split(".")[0] + ".labels.parquet")

    return pl.read_parquet(a).equals(pl.read_parquet(b)) and pl.read_parquet(labels(a)).equals(
        pl.read_parquet(labels(b))
    )


def show(name: str, r: Run) -> None:
    print(
        f"  {name:<6} wall {r.wall:7.1f} s   cpu {r.cpu:6.1f} s ({r.user:.1f} user + "
        f"{r.system:.1f} sys)   peak RSS {r.rss_gb:5.2f} GB   load {r.load[0]:.1f} -> {r.load[1]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--peer", type=Path, help="another checkout whose generator to compare")
    parser.add_argument("--data-dir", type=Path, help="where the logs go (default: a temp dir)")
    parser.add_argument("extra", nargs="*", help="more key=value options for the generator")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.data_dir) as tmp:
        ours_path, peer_path = Path(tmp) / "ours.parquet", Path(tmp) / "peer.parquet"
        for round_ in range(1, args.repeat + 1):
            print(f"round {round_}: {args.customers:,} customers")
            ours = measure(ROOT, args.customers, ours_path, args.extra)
            show("ours", ours)
            if args.peer is None:
                continue
            peer = measure(args.peer, args.customers, peer_path, args.extra)
            show("peer", peer)
            print(
                f"  ours / peer: wall {ours.wall / peer.wall:.2f}x, cpu {ours.cpu / peer.cpu:.2f}x,"
                f" peak RSS {ours.rss_gb / peer.rss_gb:.2f}x; identical log and labels: "
                f"{same_files(ours_path, peer_path)}"
            )
        print(f"log: {ours_path.stat().st_size / 1e6:,.1f} MB")


if __name__ == "__main__":
    main()

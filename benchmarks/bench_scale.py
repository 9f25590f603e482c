"""The whole sweep on large synthetic logs read from Parquet: wall time, peak RSS, stages.

For each customer count, the synthetic shop's log is written to Parquet once (kept in
``--data-dir`` for later rounds), then ``python -m src.run +experiment=lrfmc`` reads it like a
user's file, in a fresh process with a fresh sqlite tracking store, under ``/usr/bin/time -v``.
Printed per size: generator time, sweep wall time and peak RSS, the stage times the job logs
(``stage_seconds.*``), the chosen k and the adjusted Rand index against the planted segments.
As a peer measured in the same round, a bare scikit-learn script fits K-Means (k=6) on the
same customers' LRFMC features once per trial (``--trials`` fits, no tracking, no report), so
the ratio says what the tracked sweep costs over the fits a user would have to run anyway.

    python benchmarks/bench_scale.py --customers 100000 1000000 --trials 20
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PEER = """
import sys, time
import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
from src.data import customer_features
features = customer_features(
    {"name": "bench", "type": "transactions", "path": sys.argv[1]}, features="lrfmc"
)
X = StandardScaler().fit_transform(np.log1p(features.clip(lower=0)))
for seed in range(int(sys.argv[2])):
    KMeans(6, n_init=1, random_state=seed).fit(X)
"""


def time_v(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (GB) of one whole process, and its output."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    parts = [float(p) for p in wall.group(1).split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return seconds, int(rss.group(1)) / 1024**2, proc.stdout


def parent_metrics(store: Path) -> dict[str, float]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("lrfmc")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.mlflow.runName = 'lrfmc-sweep'"
    )
    return dict(runs[0].data.metrics), dict(runs[0].data.params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    for n in args.customers:
        log = args.data_dir / f"shop_{n}.parquet"
        labels = args.data_dir / f"shop_{n}.labels.parquet"
        if not log.exists():
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "src.data.synthetic", f"n_customers={n}", f"output={log}"],
                cwd=ROOT,
                check=True,
            )
            print(f"{n:>9,} customers: log written in {time.perf_counter() - start:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp)
            run_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"}
            wall, rss, _ = time_v(
                [
                    sys.executable,
                    "-m",
                    "src.run",
                    "+experiment=lrfmc",
                    "dataset=synthetic_parquet",
                    f"dataset.path={log}",
                    f"dataset.labels={labels}",
                    f"sweep.n_trials={args.trials}",
                    f"hydra.run.dir={store / 'out'}",
                ],
                run_env,
            )
            metrics, params = parent_metrics(store)
        peer, peer_rss, _ = time_v([sys.executable, "-c", PEER, str(log), str(args.trials)], env)
        stages = ", ".join(
            f"{k.removeprefix('stage_seconds.')} {v:.1f} s"
            for k, v in metrics.items()
            if k.startswith("stage_seconds.")
        )
        print(
            f"{n:>9,} customers: sweep {wall:.1f} s wall, {rss:.2f} GB peak RSS; k="
            f"{params.get('chosen.k')}, ground-truth ARI {metrics.get('ground_truth_ari', 0):.3f}"
            f"\n{'':>20} stages: {stages}"
            f"\n{'':>20} peer ({args.trials} bare K-Means fits on all customers): {peer:.1f} s, "
            f"{peer_rss:.2f} GB; ratio sweep / peer {wall / peer:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Whole-process timing: our tracked sweep vs a bare Optuna + MLflow script, n_trials=30 each.

Both run on the UCI Online Retail RFM features (4,338 customers), k 2..10 x 3 scalers (27
configurations), each in a fresh process with a fresh sqlite tracking store. The bare script
runs 30 TPE trials, refitting repeats; ours fits each of the 27 configurations once (a budget
that covers the space queues them all). Ours also logs figures, per-trial radar charts and
pipelines, the HTML report, insight tables, stability and registers the model; the bare script
logs params/metrics per trial and one model.

    python benchmarks/bench_sweep.py [--repeat 3] [--trials 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SEGMENTATION_DATA_DIR", ROOT.parent / "shared" / "data"))


def timed(cmd: list[str], store: Path, cwd: Path) -> float:
    """Wall time of one whole process with its own fresh tracking store."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    data = DATA_DIR / "online_retail.csv.gz"
    if not data.exists():
        sys.exit(f"{data} not found; set SEGMENTATION_DATA_DIR")
    ours_cmd = [
        sys.executable,
        "-m",
        "src.run",
        "+experiment=online_retail_rfm",
        f"dataset.path={data}",
        f"sweep.n_trials={args.trials}",
        "sweep.k.low=2",
        "sweep.k.high=10",
        "sweep.search_space.outliers=[none]",
        "sweep.search_space.scaler=[standard,robust,minmax]",
        "sweep.search_space.model=[kmeans]",
    ]
    bare_cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "bare_sweep.py"),
        str(data),
        str(args.trials),
    ]
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for i in range(args.repeat):
        for name, cmd in (("bare", bare_cmd), ("ours", ours_cmd)):
            with tempfile.TemporaryDirectory() as tmp:
                store = Path(tmp)
                if name == "ours":
                    t = timed([*cmd, f"hydra.run.dir={store / 'out'}"], store, ROOT)
                else:
                    t = timed(cmd, store, store)
            times[name].append(t)
            print(f"run {i + 1}: {name:<4} {t:6.2f} s", flush=True)
    ours, bare = statistics.median(times["ours"]), statistics.median(times["bare"])
    print(
        f"\nmedian of {args.repeat}: ours {ours:.2f} s, bare {bare:.2f} s, "
        f"ratio ours/bare {ours / bare:.2f}  ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()})"
    )


if __name__ == "__main__":
    main()

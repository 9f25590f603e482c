"""Planted-k recovery: does the default sweep find the number of planted segments?

For each mix of planted segments of the synthetic shop, run the main job's sweep
(``+experiment=lrfmc``, default k range 2..10, default k rule) through the same finalise step
as ``python -m src.run`` (no MLflow store involved) and record the chosen k, the knee, the
adjusted Rand index against the planted segments and the stability. Writes the table to
``experiments/planted_k.md`` (between the markers) and prints it.

    .venv/bin/python experiments/planted_k.py            # every mix of the table
    .venv/bin/python experiments/planted_k.py 4dh        # one mix
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIXES = {
    "3dh": "{champions:1,hibernating:1,discount_hunters:1}",
    "3": "{champions:1,new:1,hibernating:1}",
    "4dh": "{champions:1,new:1,hibernating:1,discount_hunters:1}",
    "4": "{champions:1,loyal:1,new:1,hibernating:1}",
    "5dh": "{champions:1,loyal:1,new:1,hibernating:1,discount_hunters:1}",
    "6": "{champions:0.12,loyal:0.2,new:0.16,at_risk:0.16,hibernating:0.2,discount_hunters:0.16}",
}
MARK = "<!-- planted-k table -->"


def run(mix: str) -> dict:
    from src.config import compose_config
    from src.data.contract import DataContract
    from src.data.prepare import prepare_data
    from src.jobs.finalise import finalise
    from src.jobs.segment import load_options, run_trials
    from src.model.evaluation import EvaluationSpace
    from src.sweep import study as sw
    from src.sweep.space import sweep_space
    from src.viz.background import Background

    cfg = compose_config("config", "+experiment=lrfmc", f"++dataset.segment_shares={MIXES[mix]}")
    options = load_options(cfg)
    started = time.perf_counter()
    data = prepare_data(options.dataset, options.cleaning, options.features, options.snapshot_date)
    space = sweep_space(cfg)
    X_eval = EvaluationSpace().fit_transform(data.features)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        direction=sw.DIRECTIONS[options.sweep.objective.value],
        sampler=sw.make_sampler(options.sweep.sampler.value, space, options.sweep.seed),
    )
    study.set_user_attr("objective", options.sweep.objective.value)
    with contextlib.redirect_stdout(io.StringIO()):
        run_trials(options, study, space, data, X_eval, hooks=[])
    contract = DataContract(
        options.dataset, options.cleaning, options.features, options.snapshot_date, data.fingerprint
    ).to_dict()
    background = Background(draw_in_process=False)
    try:
        result = finalise(options, data, study, space, X_eval, background, contract)
    finally:
        background.close()
    planted = int(data.dataset.ground_truth.nunique())
    print(result.k_curve.drop(columns=["calinski_harabasz"]).round(3).to_string(), flush=True)
    return {
        "mix": mix,
        "planted": planted,
        "segments": MIXES[mix].strip("{}").replace(":", " ").replace(",", ", "),
        "config": f"{result.choice.outliers} + {result.choice.scaler} + {result.choice.model}",
        "knee": result.knee,
        "k": result.choice.k,
        "ari": result.metrics["ground_truth_ari"],
        "stability": result.metrics.get("stability_ari", float("nan")),
        "smallest": min(result.shares),
        "best_trial_k": int(study.best_trial.params["k"]),
        "seconds": time.perf_counter() - started,
    }


def table(rows: list[dict]) -> str:
    head = (
        "| planted | segments (weights) | chosen configuration | knee | chosen k | best-silhouette "
        "k | ARI vs planted | stability | smallest segment | found? |\n"
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
    )
    body = "".join(
        f"| {r['planted']} | {r['segments']} | {r['config']} | {r['knee']} | **{r['k']}** | "
        f"{r['best_trial_k']} | {r['ari']:.3f} | {r['stability']:.3f} | {r['smallest']:.1%} | "
        f"{'yes' if r['k'] == r['planted'] and r['ari'] >= 0.9 else 'no'} |\n"
        for r in rows
    )
    return head + body


def main(argv: list[str]) -> None:
    mixes = argv or list(MIXES)
    rows = []
    for mix in mixes:
        row = run(mix)
        rows.append(row)
        print(
            f"{mix}: planted {row['planted']} -> k={row['k']} (knee {row['knee']}), "
            f"ARI {row['ari']:.3f}, stability {row['stability']:.3f}, {row['seconds']:.0f} s",
            flush=True,
        )
    text = table(rows)
    print(text)
    if not argv:
        path = ROOT / "experiments" / "planted_k.md"
        doc = path.read_text(encoding="utf-8")
        before, _, rest = doc.partition(MARK)
        _, _, after = rest.partition(MARK)
        path.write_text(f"{before}{MARK}\n{text}{MARK}{after}", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])

"""One tracked sweep, end to end: data -> cleaning -> features -> Optuna -> MLflow -> registry.

Data and features come from pure functions; this module sequences them and hands every
record to `src.tracking`, the only module that talks to MLflow.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from src.columns import FEATURE_SETS
from src.config.runtime import enum_value as _enum
from src.config.runtime import original_cwd, output_dir, task_overrides
from src.data.contract import DataContract
from src.data.prepare import prepare_data
from src.errors import SegmentationError
from src.model.pipeline import SWEPT_GROUPS, build_pipeline, describe_pipeline
from src.model.segmentation import SegmentationModel
from src.sweep.space import sweep_space
from src.tracking.tracker import git_commit
from src.viz.background import Background

log = logging.getLogger(__name__)


def say(msg: str = "") -> None:
    print(msg, flush=True)


def run_experiment(cfg: DictConfig) -> dict[str, Any]:
    """Run the job the config names; returns what it found (best configuration, model, run)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(int(cfg.threads)):
        if _enum(cfg.job) == "eda":
            return _run_eda(cfg)
        return _run(cfg)


def _run_eda(cfg: DictConfig) -> dict[str, Any]:
    """Monthly revenue, orders, top products, countries, order values and cohort retention."""
    from src.data import log_customers, log_rows
    from src.data.prepare import load_clean
    from src.insight import cohorts, eda
    from src.tracking.tracker import Tracker, resolve_tracking_uri
    from src.viz import eda as eda_figures
    from src.viz.heatmaps import retention_heatmap
    from src.viz.style import to_png

    say(f"[{cfg.experiment_name}] loading dataset '{cfg.dataset.name}' ...")
    dataset, fingerprint, report = load_clean(
        OmegaConf.to_object(cfg.dataset), OmegaConf.to_object(cfg.cleaning), original_cwd()
    )
    if dataset.transactions is None:
        raise SegmentationError(
            f"The eda job needs a transaction log; dataset '{cfg.dataset.name}' is a "
            "per-customer table. Pick a transaction dataset (e.g. dataset=online_retail)."
        )
    tx = dataset.transactions
    tables = eda.eda_tables(tx)
    figures = eda_figures.eda_figures(tables, eda.order_values(tx))
    counts, shares = cohorts.cohort_retention(tx)
    tables["cohort_counts"], tables["cohort_retention"] = counts, shares
    figures["cohort_retention"] = retention_heatmap(shares)

    tracker = Tracker(resolve_tracking_uri(cfg.mlflow.tracking_uri), cfg.mlflow.experiment)
    tracker.start_parent(
        f"{cfg.experiment_name}-{cfg.dataset.name}",
        {
            "experiment": cfg.experiment_name,
            "dataset": cfg.dataset.name,
            "data_fingerprint": fingerprint,
            "git_commit": git_commit(),
            "job": "eda",
        },
    )
    try:
        tracker.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config/resolved_config.yaml")
        if report is not None:
            tracker.log_frame(report.to_frame(), "cleaning/cleaning_report.csv")
            tracker.log_metrics(report.to_dict())
        monthly = tables["monthly_revenue"]
        tracker.log_metrics(
            {
                "revenue": float(monthly["revenue"].sum()),
                "orders": float(monthly["orders"].sum()),
                "customers": float(log_customers(tx)),
                "months": float(len(monthly)),
                "retention_month_1_mean": float(shares[1].mean()) if 1 in shares else float("nan"),
            }
        )
        for name, frame in tables.items():
            tracker.log_frame(frame, f"eda/{name}.csv")
        for name, fig in figures.items():
            tracker.log_png(to_png(fig), f"eda/{name}.png")
    finally:
        tracker.end_parent()
    say(f"[{cfg.experiment_name}] {log_rows(tx):,} rows, {log_customers(tx):,} customers")
    say(monthly.to_string(index=False, max_rows=30))
    say(f"Logged {len(tables)} tables and {len(figures)} figures to run {tracker.parent_id}")
    say(f"Open the UI with: {tracker.run_url_hint()}")
    return {"parent_run_id": tracker.parent_id, "tables": tables, "figures": list(figures)}


def _run(cfg: DictConfig) -> dict[str, Any]:
    import optuna

    # Failed trials are reported on their progress line and in their child run instead.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    started = time.perf_counter()
    space = sweep_space(cfg)
    objective = _enum(cfg.sweep.objective)
    feature_set = _enum(cfg.features.name)
    # Started first so the drawing process has imported matplotlib by the first trial.
    background = Background()
    try:
        return _run_with(cfg, space, objective, feature_set, started, background)
    finally:
        for failure in background.close():
            log.warning("could not write artifact %s", failure)


def _run_with(cfg, space, objective, feature_set, started, background) -> dict[str, Any]:
    from src.model.evaluation import EvaluationSpace
    from src.sweep import study as sw
    from src.tracking.tracker import Tracker, default_optuna_storage, flatten, resolve_tracking_uri

    say(f"[{cfg.experiment_name}] loading dataset '{cfg.dataset.name}' ...")
    data = prepare_data(
        OmegaConf.to_object(cfg.dataset),
        OmegaConf.to_object(cfg.cleaning),
        OmegaConf.to_object(cfg.features),
        cfg.snapshot_date,
        original_cwd(),
    )
    features = data.features
    say(
        f"[{cfg.experiment_name}] {len(features):,} customers x {features.shape[1]} features "
        f"({feature_set}); data fingerprint {data.fingerprint}"
    )
    if data.cleaning is not None:
        for step in data.cleaning.steps:
            say(f"    cleaning {step.rule:<28} -{step.rows_removed:>9,}  -> {step.rows_out:,} rows")

    eval_space = EvaluationSpace().fit(features)
    X_eval = eval_space.transform(features)

    tracking_uri = resolve_tracking_uri(cfg.mlflow.tracking_uri)
    tracker = Tracker(tracking_uri, cfg.mlflow.experiment)
    storage = cfg.sweep.storage or default_optuna_storage(tracking_uri)
    sampler = sw.make_sampler(_enum(cfg.sweep.sampler), space, int(cfg.sweep.seed))
    study = sw.open_study(
        storage, cfg.experiment_name, data.fingerprint, objective, sampler, bool(cfg.sweep.resume)
    )
    parent_id = study.user_attrs.get("mlflow_parent_run_id")
    tags = {
        "experiment": cfg.experiment_name,
        "dataset": cfg.dataset.name,
        "data_fingerprint": data.fingerprint,
        "feature_set": feature_set,
        "git_commit": git_commit(),
        "optuna_study": study.study_name,
        "optuna_storage": storage,
    }
    tracker.start_parent(f"{cfg.experiment_name}-sweep", tags, run_id=parent_id)
    study.set_user_attr("mlflow_parent_run_id", tracker.parent_id)
    status = "FAILED"
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        tracker.log_params(
            {k: v for k, v in flatten(resolved).items() if not k.startswith(("insight.", "hydra."))}
        )
        tracker.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config/resolved_config.yaml")
        if data.cleaning is not None:
            tracker.log_frame(data.cleaning.to_frame(), "cleaning/cleaning_report.csv")
            tracker.log_metrics(data.cleaning.to_dict())
        tracker.log_metrics({"n_customers": len(features)})

        result = _sweep(cfg, study, space, data, X_eval, tracker, objective, background)
        status = "FINISHED"
        say(f"\nDone in {time.perf_counter() - started:.1f} s.")
        _summary(cfg, result, tracker)
        result["parent_run_id"] = tracker.parent_id
        result["study"] = study
        result["features"] = features
        return result
    except KeyboardInterrupt:
        status = "KILLED"
        say(
            "\nInterrupted. Finished trials are kept in MLflow and Optuna; continue with "
            f"`{' '.join(['python -m src.run', *[o for o in task_overrides() if not o.startswith('sweep.resume')], 'sweep.resume=true'])}`."
        )
        sys.exit(130)
    finally:
        tracker.end_parent(status)


def _trial_hooks(cfg, tracker, features, space, total: dict, objective, background):
    """Progress lines on the main thread; child runs and their artifacts on the writer thread."""
    from src.tracking import trials
    from src.tracking.tracker import flatten, now_ms
    from src.viz import background as rendering

    log_artifacts = bool(cfg.sweep.log_trial_artifacts)

    def record(handle, metrics, state, note, radar, pipeline) -> None:
        run_id = trials.log_trial(
            tracker,
            handle["number"],
            handle["params"],
            metrics,
            state,
            note,
            handle["start"],
            now_ms(),
        )
        if pipeline is not None:
            png = background.result(f"trial {handle['number'] + 1} radar", radar)
            if png is not None:
                tracker.log_png(png, "radar.png", run_id=run_id)
            trials.log_trial_pipeline(tracker, run_id, pipeline)

    def on_start(number: int, choice: Mapping[str, Any]) -> dict[str, Any]:
        params = {f"{g}": choice[g] for g in (*SWEPT_GROUPS, "k")}
        for g in SWEPT_GROUPS:
            params.update(flatten(OmegaConf.to_container(space.options[g][choice[g]]), f"{g}."))
        return {"number": number, "choice": choice, "params": params, "start": now_ms()}

    def on_end(handle, metrics, state, note, outcome, choice):
        metrics = dict(metrics)
        radar = pipeline = None
        if outcome is not None:
            metrics.update({f"share.segment_{i}": s for i, s in enumerate(outcome.shares)})
            if log_artifacts:
                profile = features.groupby(outcome.labels).mean()
                radar = background.draw(
                    "trial radar",
                    rendering.png,
                    "profiles.radar_chart",
                    profile,
                    population=features,
                )
                pipeline = outcome.pipeline
        what = f"trial {handle['number'] + 1}"
        background.write(what, record, handle, metrics, state, note, radar, pipeline)
        desc = describe_pipeline(handle["choice"])
        if metrics:
            detail = (
                f"{objective}={metrics[objective]:.4f}  smallest segment "
                f"{metrics['min_cluster_share']:.1%}"
            )
            if note and "reused" in note:
                detail += "  (repeat)"
        else:
            detail = (note or "").splitlines()[-1][:90]
        say(f"  trial {handle['number'] + 1:>3}/{total['n']}  {desc:<52} {detail}  [{state}]")

    return on_start, on_end


def _sweep(cfg, study, space, data, X_eval, tracker, objective, background) -> dict[str, Any]:
    from src.sweep import objective as swo
    from src.sweep import study as sw

    features = data.features
    seed = int(cfg.sweep.seed)
    sample_size = int(cfg.sweep.silhouette_sample_size)
    n_trials = int(cfg.sweep.n_trials)
    if _enum(cfg.sweep.sampler) == "grid":
        n_trials = min(n_trials, space.size())
    remaining = max(0, n_trials - sw.finished_trials(study))
    say(
        f"[{cfg.experiment_name}] sweeping {remaining} trial(s) of {n_trials} "
        f"(objective: {objective}, {_enum(cfg.sweep.sampler)} sampler, k {space.k_low}..{space.k_high})"
    )
    total = {"n": n_trials}
    on_start, on_end = _trial_hooks(cfg, tracker, features, space, total, objective, background)
    fn = swo.make_objective(
        features,
        X_eval,
        space,
        objective,
        float(cfg.sweep.min_cluster_share),
        sample_size,
        seed,
        on_start=on_start,
        on_end=on_end,
    )

    def optimize(n: int) -> None:
        study.optimize(
            fn,
            n_trials=n,
            timeout=cfg.sweep.timeout,
            n_jobs=int(cfg.sweep.n_jobs),
            catch=(Exception,),
            gc_after_trial=False,
        )

    if remaining:
        optimize(remaining)
    if cfg.sweep.refine_k:
        queued = sw.enqueue_k_refinement(study, space)
        if queued:
            total["n"] = sw.finished_trials(study) + queued
            say(f"[{cfg.experiment_name}] refining k for the best configuration: {queued} trial(s)")
            optimize(queued)
    return _choose(cfg, study, space, data, X_eval, tracker, objective, background)


def _choose(cfg, study, space, data, X_eval, tracker, objective, background) -> dict[str, Any]:
    from src.sweep import study as sw

    best = sw.best_choice(study)
    trials = sw.trials_frame(study)
    tracker.log_frame(trials, "sweep/trials.csv")
    say(
        f"\nBest: trial {best['trial'] + 1}, {describe_pipeline(best)}, {objective}={best['value']:.4f}"
    )
    return _finalise(cfg, study, space, data, X_eval, tracker, objective, best, trials, background)


def _finalise(
    cfg, study, space, data, X_eval, tracker, objective, best, trials, background
) -> dict[str, Any]:
    """Refit the chosen configuration on all customers, analyse, log, register."""
    from sklearn.metrics import adjusted_rand_score

    from src.insight import naming
    from src.model.evaluation import knee_point, score_labels, silhouette_sample, stability_score
    from src.sweep import study as sw

    features = data.features
    seed = int(cfg.sweep.seed)
    sample_size = int(cfg.sweep.silhouette_sample_size)
    choice = {g: best[g] for g in (*SWEPT_GROUPS, "k")}

    def make_pipeline():
        return build_pipeline(
            space.options["outliers"][choice["outliers"]],
            space.options["scaler"][choice["scaler"]],
            space.options["model"][choice["model"]],
            choice["k"],
        )

    model = SegmentationModel(make_pipeline(), list(features.columns)).fit(features)
    model.contract = DataContract(
        dataset=OmegaConf.to_object(cfg.dataset),
        cleaning=OmegaConf.to_object(cfg.cleaning),
        features=OmegaConf.to_object(cfg.features),
        snapshot_date=cfg.snapshot_date,
        fingerprint=data.fingerprint,
    ).to_dict()
    labels = model.labels(features)
    metrics, shares = score_labels(
        model.pipeline, features[model.feature_names], X_eval, labels, sample_size, seed
    )
    if data.dataset.ground_truth is not None:
        truth = data.dataset.ground_truth.reindex(features.index)
        ok = truth.notna().to_numpy()
        metrics["ground_truth_ari"] = float(adjusted_rand_score(truth[ok].astype(str), labels[ok]))

    # Names and profiles.
    insight_cfg = OmegaConf.to_container(cfg.insight, resolve=True) if cfg.insight else {}
    profile = naming.segment_profile(features, labels)
    feature_cols = list(features.columns)
    names = naming.name_segments(profile[feature_cols], features, insight_cfg.get("naming", {}))
    model.segment_names = {int(k): v for k, v in names.items()}
    descriptions = naming.describe_segments(
        profile[feature_cols], features, insight_cfg.get("naming", {})
    )

    # Curves over k for the chosen configuration (reusing trials already measured).
    curve = sw.k_curve(
        features, X_eval, choice, space, sample_size, seed, known=sw.known_k_metrics(study, choice)
    )
    knee = knee_point(curve["k"].tolist(), curve["inertia"].tolist()) if len(curve) >= 3 else None

    # Figures render in the drawing process while stability and the insight tables compute.
    from src.viz import background as rendering

    idx, sil_values = silhouette_sample(X_eval, labels, min(sample_size, 5000), seed)
    means = profile[feature_cols]
    draw = rendering.png
    trials_copy, directions = study.get_trials(), [d.name.lower() for d in study.directions]
    jobs = {
        "radar.png": (draw, "profiles.radar_chart", means, names, features),
        "radar_grid.png": (draw, "profiles.radar_grid", means, names, features),
        "elbow.png": (draw, "choosing_k.elbow_plot", curve["k"], curve["inertia"], knee),
        "silhouette_vs_k.png": (
            draw,
            "choosing_k.silhouette_vs_k",
            curve["k"],
            curve["silhouette"],
            choice["k"],
        ),
        "silhouette_diagram.png": (
            draw,
            "choosing_k.silhouette_diagram",
            sil_values,
            labels[idx],
            names,
            metrics.get("silhouette"),
        ),
        "pca_2d.png": (draw, "scatter.pca_scatter", X_eval, labels, names),
        "scatter_3d.png": (draw, "scatter.scatter_3d", features, labels, names),
        "cluster_sizes.png": (draw, "profiles.cluster_size_bars", labels, names),
        "cluster_means.png": (draw, "profiles.cluster_mean_bars", means, names),
        "scatter_matrix.png": (draw, "scatter.scatter_matrix", features, labels, names),
        "optuna_history.png": (
            rendering.optuna_png,
            "optuna.optuna_history",
            trials_copy,
            directions,
        ),
        "optuna_importances.png": (
            rendering.optuna_png,
            "optuna.optuna_importances",
            trials_copy,
            directions,
        ),
    }
    pending = {name: background.draw(name, *job) for name, job in jobs.items()}

    n_boot = int(cfg.sweep.stability_bootstraps)
    if n_boot > 0:
        stab = stability_score(make_pipeline, features, n_bootstraps=n_boot, random_state=seed)
        metrics["stability_ari"] = float(stab["mean"])
        metrics["stability_ari_std"] = float(stab["std"])
    analysis = _insight(cfg, data, features, labels, names, insight_cfg)
    pngs = {name: background.result(name, f) for name, f in pending.items()}
    pngs = {name: png for name, png in pngs.items() if png is not None}

    # Everything to MLflow.
    tracker.log_metrics({f"best.{k}": v for k, v in metrics.items()})
    tracker.log_metrics({f"best.share.segment_{i}": s for i, s in enumerate(shares)})
    tracker.set_tags(
        {
            "best_trial": best["trial"] + 1,
            "best_config": describe_pipeline(choice),
            "best_k": choice["k"],
        }
    )
    for _, row in curve.iterrows():
        tracker.log_metrics(
            {"curve.inertia": row["inertia"], "curve.silhouette": row["silhouette"]},
            step=int(row["k"]),
        )
    tracker.log_frame(curve.set_index("k"), "curves/k_curve.csv")
    for name, png in pngs.items():
        tracker.log_png(png, f"figures/{name}")
    seg_table = profile.join(descriptions[["segment_name", "description"]], how="left")
    tracker.log_frame(seg_table, "segments/segment_profiles.csv")
    assignments = model.predict(features)
    assignments.index.name = "customer_id"
    tracker.log_frame(assignments, "segments/customer_segments.csv")
    for key, frame in analysis["tables"].items():
        tracker.log_frame(frame, f"insight/{key}.csv")

    html = _report(
        cfg,
        data,
        {**choice, "trial": best["trial"] + 1},
        metrics,
        trials,
        seg_table,
        analysis,
        pngs,
        tracker,
    )
    tracker.log_text(html, "report/segmentation_report.html")
    report_paths = [p for p in [output_dir()] if p is not None]
    report_paths = [p / "segmentation_report.html" for p in report_paths]
    if cfg.report.path:
        report_paths.append(original_cwd() / cfg.report.path)
    for p in report_paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(html, encoding="utf-8")

    from src.tracking import registry, serving

    registration = None
    model_uri = serving.log_model(model, features.head(5).reset_index())
    if cfg.mlflow.register:
        greater = sw.DIRECTIONS[objective] == "maximize"
        registration = registry.register(
            tracker,
            model_uri,
            cfg.mlflow.registered_model,
            objective,
            metrics[objective],
            greater,
            {
                "data_fingerprint": data.fingerprint,
                "feature_set": _enum(cfg.features.name),
                "dataset": cfg.dataset.name,
                "experiment": cfg.experiment_name,
                "config": describe_pipeline(choice),
                **{f"metric.{k}": f"{v:.6g}" for k, v in metrics.items()},
            },
        )
        tracker.set_tags(
            {
                "registered_model": registration.name,
                "model_version": registration.version,
                "model_alias": registration.alias,
            }
        )
    return {
        "choice": choice,
        "value": metrics[objective],
        "metrics": metrics,
        "names": names,
        "profile": seg_table,
        "model_uri": model_uri,
        "model": model,
        "registration": registration,
        "report_paths": report_paths,
        "objective": objective,
    }


def _insight(cfg, data, features, labels, names, insight_cfg) -> dict[str, Any]:
    """RFM-score baseline, playbook and product picks (tables for MLflow and the report)."""
    from src.insight import recommend, rfm_score

    seg_names = pd.Series([names[int(s)] for s in labels], index=features.index, name="segment")
    tables: dict[str, pd.DataFrame] = {}
    crosstab = None
    if all(c in features for c in FEATURE_SETS["rfm"]):
        scores = rfm_score.rfm_scores(features)
        crosstab = rfm_score.score_crosstab(seg_names, scores["score_segment"])
        tables["rfm_scores"] = scores
        tables["cluster_vs_rfm_score"] = crosstab
    actions = recommend.playbook_actions(names, insight_cfg.get("playbook", {}))
    tables["segment_actions"] = actions
    products, note = None, None
    try:
        if data.transactions is None:
            raise recommend.NoProductData(
                "Product recommendations need a transaction log with a stock_code column; "
                f"dataset '{cfg.dataset.name}' is a per-customer table."
            )
        products = recommend.segment_top_products(
            data.transactions,
            seg_names,
            top_n=int(insight_cfg.get("top_products", 10)),
            min_support=float(insight_cfg.get("min_support", 0.0)),
        )
        per_customer = recommend.customer_recommendations(
            data.transactions,
            seg_names,
            top_n=int(insight_cfg.get("recommendations_per_customer", 5)),
            candidates=products,
        )
        tables["segment_top_products"] = products
        tables["customer_recommendations"] = per_customer
    except recommend.NoProductData as exc:
        note = str(exc)
    return {
        "tables": tables,
        "crosstab": crosstab,
        "actions": actions,
        "products": products,
        "products_note": note,
    }


def _report(cfg, data, choice, metrics, trials, seg_table, analysis, pngs, tracker) -> str:
    from datetime import datetime

    from src.report.page import ReportContext, render_report

    ds = data.dataset
    dataset_info = {
        "name": cfg.dataset.name,
        "source": ds.source,
        "kind": ds.kind,
        "customers": len(data.features),
        "fingerprint": data.fingerprint,
        "snapshot date": None if data.snapshot is None else str(data.snapshot.date()),
        "feature set": _enum(cfg.features.name),
    }
    if data.transactions is not None:
        dataset_info["rows after cleaning"] = len(data.transactions)
    chosen = {
        **choice,
        "objective": _enum(cfg.sweep.objective),
        "min cluster share": float(cfg.sweep.min_cluster_share),
    }
    ctx = ReportContext(
        title=f"Customer segments: {cfg.experiment_name}",
        experiment=cfg.experiment_name,
        run_id=tracker.parent_id,
        created=datetime.now().strftime("%Y-%m-%d %H:%M"),
        dataset=dataset_info,
        cleaning=None if data.cleaning is None else data.cleaning.to_frame(),
        chosen=chosen,
        metrics=metrics,
        top_trials=trials.head(10),
        segments=seg_table,
        actions=analysis["actions"],
        rfm_crosstab=analysis["crosstab"],
        products=analysis["products"],
        products_note=analysis["products_note"],
        figures=pngs,
        chosen_trial=choice.get("trial"),
        min_cluster_share=float(cfg.sweep.min_cluster_share),
    )
    return render_report(ctx)


def _summary(cfg, result: Mapping[str, Any], tracker) -> None:
    c = result["choice"]
    m = result["metrics"]
    say("=" * 78)
    say(f"Best configuration : {describe_pipeline(c)}")
    keys = [
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "inertia",
        "min_cluster_share",
        "stability_ari",
        "ground_truth_ari",
    ]
    say("Metrics            : " + ", ".join(f"{k}={m[k]:.4g}" for k in keys if k in m))
    say("Segments           :")
    prof = result["profile"]
    for seg_id, row in prof.iterrows():
        say(
            f"    {seg_id}: {row['segment_name']:<32} {int(row['n_customers']):>8,} customers "
            f"({row['share']:.1%})"
        )
    say(f"Parent run         : {tracker.parent_id} (experiment '{cfg.mlflow.experiment}')")
    reg = result["registration"]
    if reg is not None:
        say(f"Registered model   : {reg.name} v{reg.version} -> @{reg.alias} ({reg.reason})")
        say(f"Load it with       : models:/{reg.name}@{reg.alias}")
    else:
        say(f"Model              : {result['model_uri']} (not registered: mlflow.register=false)")
    for p in result["report_paths"]:
        say(f"Report             : {p}")
    say(f"Open the UI with   : {tracker.run_url_hint()}")
    say("=" * 78)

"""End to end: small sweeps on synthetic data against a temporary MLflow store."""

from __future__ import annotations

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient

from src.config import compose_config
from src.jobs import run_job
from src.result import VALUE_FIGURES, FigureId
from src.sweep import objective as sweep_module
from src.sweep.study import fitted_configurations, trial_metrics

pytestmark = pytest.mark.slow

MODEL = "customer-segmentation"
SMALL = [
    "dataset.n_customers=1500",
    "sweep.n_trials=5",
    "sweep.stability_bootstraps=3",
    "sweep.k.low=3",
    "sweep.k.high=7",
    "sweep.search_space.outliers=[none,iqr_clip]",
    "sweep.search_space.scaler=[log_standard,robust]",
    "sweep.search_space.model=[kmeans]",
    "sweep.refine_k=false",
]


def make_cfg(*overrides: str, experiment: str = "lrfmc"):
    return compose_config("config", f"+experiment={experiment}", *overrides)


@pytest.fixture(scope="module")
def store(tracking_uri):
    return tracking_uri


@pytest.fixture(scope="module")
def first(store):
    return run_job(make_cfg(*SMALL))


def client(store) -> MlflowClient:
    return MlflowClient(tracking_uri=store, registry_uri=store)


def children(store, parent_id):
    parent = mlflow.get_run(parent_id)
    return mlflow.search_runs(
        experiment_ids=[parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
    )


def test_sweep_logs_one_child_run_per_trial_with_metrics(store, first):
    runs = children(store, first.parent_run_id)
    assert len(runs) == len(first.study.trials)
    assert fitted_configurations(first.study) == 5
    for col in ["metrics.silhouette", "metrics.inertia", "metrics.davies_bouldin"]:
        assert runs[col].notna().all(), col
    assert {"params.outliers", "params.scaler", "params.model", "params.k"} <= set(runs.columns)


def test_child_run_params_are_what_was_fitted(store, first):
    runs = children(store, first.parent_run_id)
    assert (runs["params.model.n_clusters"] == runs["params.k"]).all()
    assert (
        not runs.filter(like="params.")
        .apply(lambda c: c.astype(str).str.contains("${", regex=False))
        .any()
        .any()
    )
    assert runs["tags.mlflow.runName"].str.contains(" + ", regex=False).all()


def test_parent_params_name_the_chosen_configuration(store, first):
    params = mlflow.get_run(first.parent_run_id).data.params
    assert params["chosen.k"] == str(first.result.choice.k)
    assert params["chosen.model.n_clusters"] == str(first.result.choice.k)
    assert "model.n_clusters" not in params


def test_the_chosen_trial_is_tagged(store, first):
    runs = children(store, first.parent_run_id)
    chosen = runs[runs["tags.chosen"] == "true"]
    assert list(chosen["tags.trial"]) == [str(first.result.chosen_trial)]


def test_parent_run_carries_tags_config_and_figures(store, first):
    run = mlflow.get_run(first.parent_run_id)
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    for key in ["dataset", "data_fingerprint", "feature_set", "git_commit", "experiment"]:
        assert tags.get(key), key
    files = {a.path for a in client(store).list_artifacts(run.info.run_id, "figures")}
    for figure in set(FigureId) - VALUE_FIGURES:  # value figures need value=default
        if figure is not FigureId.OPTUNA_IMPORTANCES:  # needs enough varied trials
            assert f"figures/{figure.value}.png" in files, figure
    top = {a.path for a in client(store).list_artifacts(run.info.run_id)}
    assert {"config", "cleaning", "report", "segments"} <= top
    assert run.data.metrics["silhouette"] == pytest.approx(first.result.metrics["silhouette"])
    assert run.data.tags["mlflow.note.content"].startswith("LRFMC segments of synthetic")
    assert [d.dataset.digest for d in run.inputs.dataset_inputs]


def test_chosen_trial_is_the_best_trial_at_the_ruled_k(first):
    study = first.study
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    k = first.result.choice.k
    chosen = study.trials[first.result.chosen_trial - 1]
    assert chosen.params == first.result.choice.as_dict()
    assert chosen.value == max(t.value for t in complete if t.params["k"] == k)
    assert first.result.k_curve.set_index("k").loc[k, "verdict"] == "chosen"
    trials = study.get_trials()
    assert all(trial_metrics(t, trials)["min_cluster_share"] >= 0.02 for t in complete)


def test_champion_alias_loads_and_matches_the_in_memory_model(store, first):
    assert first.registration.alias == "champion"
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    features = first.result.features
    served = loaded.predict(features.reset_index())
    local = first.result.model.predict(features)
    np.testing.assert_array_equal(served["segment_id"].to_numpy(), local["segment_id"].to_numpy())
    assert list(served["customer_id"]) == list(features.index.astype(str))
    assert served["segment_name"].nunique() == first.result.model.n_segments


def test_segment_names_are_business_names_not_placeholders(first):
    names = list(first.result.names.values())
    assert len(set(names)) == len(names)
    assert not any(n.startswith("Segment ") for n in names)


def test_a_worse_sweep_leaves_the_champion_and_becomes_challenger(store, first):
    worse = run_job(
        make_cfg(
            *SMALL,
            "sweep.n_trials=1",
            "sweep.k.low=7",
            "sweep.k.high=7",
            "sweep.search_space.scaler=[minmax]",
            "sweep.search_space.outliers=[none]",
        )
    )
    assert worse.result.value < first.result.value
    c = client(store)
    assert (
        str(c.get_model_version_by_alias(MODEL, "champion").version) == first.registration.version
    )
    assert (
        str(c.get_model_version_by_alias(MODEL, "challenger").version) == worse.registration.version
    )
    assert "does not beat" in worse.registration.reason


def test_an_identical_rerun_is_not_registered_again(store, first):
    again = run_job(make_cfg(*SMALL))
    assert not again.registration.new
    assert again.registration.version == first.registration.version
    assert "identical" in again.registration.reason


def test_a_trial_that_raises_is_failed_and_the_sweep_finishes(store, monkeypatch):
    real = sweep_module.run_trial

    def flaky(features, X_eval, choice, *args, **kwargs):
        if choice.scaler == "robust":
            raise RuntimeError("robust scaler exploded")
        return real(features, X_eval, choice, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_trial", flaky)
    result = run_job(
        make_cfg(
            *SMALL,
            "sweep.sampler=grid",
            "sweep.k.low=4",
            "sweep.k.high=4",
            "sweep.n_trials=4",
            "mlflow.register=false",
        )
    )
    study = result.study
    states = {t.params["scaler"]: t.state for t in study.trials}
    assert states["robust"] == optuna.trial.TrialState.FAIL
    assert states["log_standard"] == optuna.trial.TrialState.COMPLETE
    runs = children(store, result.parent_run_id)
    failed = runs[runs["params.scaler"] == "robust"]
    assert (failed["status"] == "FAILED").all() and len(failed) >= 1
    assert mlflow.get_run(result.parent_run_id).info.status == "FINISHED"


def test_an_interrupted_sweep_resumes_in_the_same_study_and_parent_run(store, monkeypatch):
    real = sweep_module.run_trial
    calls = {"n": 0}

    def interrupt_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_trial", interrupt_third)
    overrides = [*SMALL, "experiment_name=resumable", "mlflow.register=false"]
    with pytest.raises(SystemExit) as stop:
        run_job(make_cfg(*overrides))
    assert stop.value.code == 130
    runs = mlflow.search_runs(experiment_names=["resumable"])
    interrupted = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert list(interrupted["status"]) == ["KILLED"]
    parent_id = interrupted["run_id"].iloc[0]

    monkeypatch.setattr(sweep_module, "run_trial", real)
    resumed = run_job(make_cfg(*overrides, "sweep.resume=true"))
    assert resumed.parent_run_id == parent_id
    study = resumed.study
    assert fitted_configurations(study) == 5
    assert sum(t.user_attrs.get("state") == "interrupted" for t in study.trials) == 1
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) >= 5
    assert mlflow.get_run(parent_id).info.status == "FINISHED"


def test_resume_without_an_earlier_sweep_is_a_clear_error(store):
    from src.errors import SegmentationError

    with pytest.raises(SegmentationError, match="no earlier sweep"):
        run_job(make_cfg(*SMALL, "experiment_name=never_ran", "sweep.resume=true"))


def test_rejected_solutions_never_win(store):
    """With a minimum share no solution reaches every trial is rejected and the run says so."""
    from src.errors import SegmentationError

    with pytest.raises(SegmentationError, match="min_cluster_share"):
        run_job(
            make_cfg(
                *SMALL,
                "sweep.n_trials=2",
                "sweep.min_cluster_share=0.33",
                "experiment_name=too_strict",
            )
        )
    runs = mlflow.search_runs(experiment_names=["too_strict"])
    trials = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert set(trials["tags.trial_state"]) == {"rejected"}


def test_k_refinement_tries_every_k_for_the_best_configuration(store):
    result = run_job(
        make_cfg(
            *SMALL,
            "sweep.n_trials=2",
            "sweep.refine_k=true",
            "experiment_name=refined",
            "mlflow.register=false",
        )
    )
    study = result.study
    best = study.best_trial.params

    def same_config(t) -> bool:
        return all(t.params[g] == best[g] for g in ("outliers", "scaler", "model"))

    sampled = [t for t in study.trials if t.user_attrs.get("kind") != "k_refinement"]
    tried_first = {t.params["k"] for t in sampled if same_config(t)}
    refined = [t for t in study.trials if t.user_attrs.get("kind") == "k_refinement"]
    assert sorted({t.params["k"] for t in study.trials if same_config(t)}) == [3, 4, 5, 6, 7]
    assert len(refined) == len({3, 4, 5, 6, 7} - tried_first)
    assert fitted_configurations(study) == 2


def test_default_sweep_recovers_the_planted_segments(store):
    """The README's main job on the generator finds the six planted segments, k 2..10."""
    result = run_job(make_cfg("experiment_name=planted", "mlflow.register=false")).result
    assert (result.k_curve["k"].min(), result.k_curve["k"].max()) == (2, 10)
    assert result.choice.k == 6
    assert result.metrics["ground_truth_ari"] >= 0.95
    assert result.metrics["stability_ari"] >= 0.8


def test_predictions_table_has_one_row_per_customer(first):
    out = first.result.model.predict(first.result.features)
    assert len(out) == len(first.result.features)
    assert out["distance_to_centre"].ge(0).all()
    assert isinstance(out, pd.DataFrame)


def test_eda_job_logs_revenue_cohorts_and_figures(store):
    result = run_job(make_cfg("dataset.n_customers=800", experiment="eda"))
    run = mlflow.get_run(result.parent_run_id)
    assert run.data.tags["job"] == "eda"
    assert run.data.metrics["revenue"] > 0
    files = {a.path for a in client(store).list_artifacts(run.info.run_id, "eda")}
    for name in ["monthly_revenue.csv", "cohort_retention.csv", "cohort_retention.png"]:
        assert f"eda/{name}" in files, name


def test_summary_table_runs_lrfmc_and_explains_missing_product_picks(store):
    """The per-customer summary schema has no products: the sweep still runs and says why."""
    result = run_job(
        make_cfg(
            *SMALL,
            "dataset.n_customers=1200",
            "dataset.output=summary",
            "sweep.n_trials=2",
            "experiment_name=summary",
            "mlflow.register=false",
        )
    )
    assert list(result.result.features.columns) == [
        "length_days",
        "recency_days",
        "frequency",
        "monetary",
        "discount_rate",
    ]
    html = client(store).download_artifacts(result.parent_run_id, "report/segmentation_report.html")
    with open(html, encoding="utf-8") as fh:
        assert "stock_code" in fh.read()


def test_above_the_fit_sample_size_trials_use_a_sample_and_every_customer_is_labelled(
    store, capsys
):
    run = run_job(
        make_cfg(
            *SMALL,
            "dataset.n_customers=2500",
            "sweep.fit_sample_size=1000",
            "experiment_name=sampled",
            "mlflow.register=false",
        )
    )
    out = capsys.readouterr().out
    assert "trials fit and are scored on a seeded sample of 1,000 of 2,500 customers" in out
    assert len(run.result.assignments) == len(run.result.features) == 2500
    # Trial shares are counted on the sample, the chosen model's on every customer.
    parent = mlflow.get_run(run.parent_run_id)
    trial_runs = client(store).search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run.parent_run_id}'"
    )
    for trial_run in trial_runs:
        shares = [v for k, v in trial_run.data.metrics.items() if k.startswith("share.")]
        if shares:
            assert all(abs(s * 1000 - round(s * 1000)) < 1e-6 for s in shares)
    assert run.result.profile["n_customers"].sum() == 2500
    stages = parent.data.metrics
    assert {"stage_seconds.sweep", "stage_seconds.finalise"} <= set(stages)
    assert "[finalise:" in out


def test_a_feature_table_the_model_could_not_score_is_refused_before_any_trial(store, tmp_path):
    from src.errors import SegmentationError

    table = tmp_path / "features.csv"
    pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(300)],
            "recency_days": np.arange(300) % 90,
            "frequency": np.arange(300) % 7 + 0.5,  # orders are whole numbers
            "monetary": np.arange(300) * 3.0 + 10,
        }
    ).to_csv(table, index=False)
    with pytest.raises(SegmentationError, match="nothing segmented: frequency must be"):
        run_job(
            make_cfg(
                "dataset=feature_table",
                f"dataset.path={table}",
                "experiment_name=bad-table",
                experiment="rfm",
            )
        )
    assert client(store).get_experiment_by_name("bad-table") is None

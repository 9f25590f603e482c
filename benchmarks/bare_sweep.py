"""Baseline for bench_sweep.py: the sweep a data scientist would write by hand.

Optuna + nested MLflow runs on the UCI Online Retail RFM features; logs params and metrics
per trial and one model at the end. No figures, no registry, no fairness rules.
Usage: python benchmarks/bare_sweep.py DATA_FILE N_TRIALS
"""

from __future__ import annotations

import sys

import mlflow
import numpy as np
import optuna
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

SCALERS = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}


def rfm(path: str) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"CustomerID": "float64", "InvoiceNo": "str"})
    df = df.dropna(subset=["CustomerID"])
    df = df[~df["InvoiceNo"].str.startswith("C") & (df["Quantity"] > 0) & (df["UnitPrice"] > 0)]
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    df["amount"] = df["Quantity"] * df["UnitPrice"]
    snapshot = pd.Timestamp("2011-12-10")
    g = df.groupby("CustomerID")
    return pd.DataFrame(
        {
            "recency_days": (snapshot - g["InvoiceDate"].max()).dt.days,
            "frequency": g["InvoiceNo"].nunique(),
            "monetary": g["amount"].sum(),
        }
    )


def main() -> None:
    path, n_trials = sys.argv[1], int(sys.argv[2])
    X = rfm(path).to_numpy(dtype="float64")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mlflow.set_experiment("bare-sweep")
    with mlflow.start_run(run_name="bare-sweep"):

        def objective(trial: optuna.Trial) -> float:
            scaler = trial.suggest_categorical("scaler", list(SCALERS))
            k = trial.suggest_int("k", 2, 10)
            with mlflow.start_run(nested=True):
                pipe = make_pipeline(SCALERS[scaler](), KMeans(k, n_init=10, random_state=42))
                labels = pipe.fit_predict(X)
                Xs = pipe[:-1].transform(X)
                score = silhouette_score(Xs, labels)
                mlflow.log_params({"scaler": scaler, "k": k})
                mlflow.log_metrics(
                    {
                        "silhouette": score,
                        "inertia": pipe[-1].inertia_,
                        "davies_bouldin": davies_bouldin_score(Xs, labels),
                    }
                )
            return score

        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=42)
        )
        study.optimize(objective, n_trials=n_trials)
        best = study.best_params
        pipe = make_pipeline(
            SCALERS[best["scaler"]](), KMeans(best["k"], n_init=10, random_state=42)
        )
        pipe.fit(X)
        mlflow.log_params({f"best_{k}": v for k, v in best.items()})
        mlflow.sklearn.log_model(pipe, name="model", input_example=X[:5])
    print(f"best {best} silhouette {study.best_value:.4f} on {len(X)} customers")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

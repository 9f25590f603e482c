"""Comparing two model versions on one dataset: do they tell the same customers apart?

Both models score the same customers, each through the features of its own data contract (so an
RFM model can be compared with an LRFMC one). The comparison reports

- the adjusted Rand index between the two labellings (1: the same partition, 0: chance);
- the mapping: for each segment of A, the share of its customers in each segment of B, and the
  segment of B that takes most of them (``same_segment`` is the share of all customers who land
  in that corresponding segment);
- the metrics of each labelling (silhouette, Davies-Bouldin, Calinski-Harabasz, shares), each
  model judged in the evaluation space of its own features, and their difference B - A.

The dataset and cleaning are model A's contract unless the command line names others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from src.config.runtime import original_cwd
from src.config.schema import CompareConfig
from src.errors import SegmentationError

METRICS = (
    "n_clusters",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "min_cluster_share",
    "max_cluster_share",
)


@dataclass(frozen=True)
class Comparison:
    model_a: str
    model_b: str
    name_a: str
    version_a: str
    name_b: str
    version_b: str
    dataset: str
    customers: int  # scored by both
    ari: float
    same_segment: float  # share of customers in the segment of B that corresponds to theirs in A
    counts: pd.DataFrame  # customers: A segment (rows) x B segment (columns)
    mapping: pd.DataFrame  # row shares of counts, plus the best match in B and its share
    metrics: pd.DataFrame  # rows METRICS, columns A, B, B - A


def segment_labels(frame: pd.DataFrame) -> pd.Series:
    """``"<id> <name>"`` per customer, so two segments with one name stay apart."""
    return frame["segment_id"].astype(str) + " " + frame["segment_name"].astype(str)


def compare_labels(
    a: pd.DataFrame, b: pd.DataFrame, X_a: np.ndarray, X_b: np.ndarray, sample_size: int, seed: int
) -> tuple[float, float, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Agreement, mapping and metrics of two predictions of the same customers (same order).

    ``a``/``b`` are ``SegmentationModel.predict`` outputs; ``X_a``/``X_b`` each model's features
    in its evaluation space. Returns (ari, same_segment, counts, mapping, metrics).
    """
    from src.model.evaluation import adjusted_rand, evaluate_labels

    la, lb = segment_labels(a).to_numpy(), segment_labels(b).to_numpy()
    ari = adjusted_rand(la, lb)
    counts = pd.crosstab(
        pd.Series(la, name="segment in A"), pd.Series(lb, name="segment in B")
    ).sort_index(key=_by_id)
    counts = counts[sorted(counts.columns, key=lambda c: int(c.split(" ", 1)[0]))]
    shares = counts.div(counts.sum(axis=1), axis=0)
    mapping = shares.copy()
    mapping["best match in B"] = shares.idxmax(axis=1)
    mapping["share in best match"] = shares.max(axis=1)
    same = float(counts.max(axis=1).sum() / counts.to_numpy().sum())
    metrics = {}
    for side, X, labels in (("A", X_a, a["segment_id"]), ("B", X_b, b["segment_id"])):
        m = evaluate_labels(X, labels.to_numpy(), sample_size=sample_size, random_state=seed)
        metrics[side] = {name: float(m[name]) for name in METRICS}
    table = pd.DataFrame(metrics)
    table["B - A"] = table["B"] - table["A"]
    table.index.name = "metric"
    return ari, same, counts, mapping, table


def _by_id(index: pd.Index) -> pd.Index:
    return pd.Index([int(str(v).split(" ", 1)[0]) for v in index])


def compare(cfg: DictConfig) -> Comparison:
    """Score the dataset with both models and compare them (see the module docstring)."""
    from src.data.contract import DataContract
    from src.data.prepare import features_at, load_clean
    from src.jobs.score import scoring_inputs
    from src.model.evaluation import EvaluationSpace
    from src.tracking.registry import model_version
    from src.tracking.serving import load_segmentation_model

    options: CompareConfig = OmegaConf.to_object(cfg)
    if options.model_a == options.model_b:
        raise SegmentationError(
            f"model_a and model_b are both '{options.model_a}'; name two different models, e.g. "
            "model_a=models:/customer-segmentation/1 model_b=models:/customer-segmentation/2."
        )
    model_a = load_segmentation_model(options.model_a, options.tracking_uri)
    model_b = load_segmentation_model(options.model_b, options.tracking_uri)
    contract_a = DataContract.from_dict(model_a.contract)
    contract_b = DataContract.from_dict(model_b.contract)
    dataset_cfg, cleaning_cfg = scoring_inputs(options, contract_a)
    dataset, fingerprint, _ = load_clean(dataset_cfg, cleaning_cfg, original_cwd())
    snapshot = options.snapshot_date
    if snapshot is None and fingerprint == contract_a.fingerprint:
        snapshot = contract_a.snapshot_date
    features_a, snap = features_at(dataset, contract_a.features, snapshot)
    features_b, _ = features_at(dataset, contract_b.features, snap)
    common = features_a.index.intersection(features_b.index)
    if common.empty:
        raise SegmentationError(
            f"No customer of dataset '{dataset.name}' has features for both models; check the "
            "snapshot_date and that both models segment the same kind of customers."
        )
    features_a, features_b = features_a.loc[common], features_b.loc[common]
    a, b = model_a.predict(features_a), model_b.predict(features_b)
    X_a = EvaluationSpace().fit_transform(features_a[model_a.feature_names])
    X_b = EvaluationSpace().fit_transform(features_b[model_b.feature_names])
    ari, same, counts, mapping, metrics = compare_labels(a, b, X_a, X_b, 10_000, options.seed)
    name_a, version_a = model_version(options.model_a, options.tracking_uri)
    name_b, version_b = model_version(options.model_b, options.tracking_uri)
    return Comparison(
        model_a=options.model_a,
        model_b=options.model_b,
        name_a=name_a,
        version_a=version_a,
        name_b=name_b,
        version_b=version_b,
        dataset=dataset.name,
        customers=len(common),
        ari=ari,
        same_segment=same,
        counts=counts,
        mapping=mapping,
        metrics=metrics,
    )


def write_comparison(result: Comparison, folder: Path) -> dict[str, Path]:
    """The mapping, counts and metric tables as CSV files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "mapping": folder / "segment_mapping.csv",
        "counts": folder / "segment_counts.csv",
        "metrics": folder / "metric_differences.csv",
    }
    result.mapping.to_csv(paths["mapping"])
    result.counts.to_csv(paths["counts"])
    result.metrics.to_csv(paths["metrics"])
    return paths


def log_comparison(result: Comparison, tracking_uri: str | None) -> str:
    """One run of experiment ``segment-comparison``: both URIs, the agreement, the tables."""
    from src.tracking.tracker import Tracker, resolve_tracking_uri

    tracker = Tracker(resolve_tracking_uri(tracking_uri), "segment-comparison")
    tags = {
        "model_a": result.model_a,
        "model_b": result.model_b,
        "model_a_version": f"{result.name_a} v{result.version_a}",
        "model_b_version": f"{result.name_b} v{result.version_b}",
        "dataset": result.dataset,
    }
    with tracker.parent_run(f"compare-{result.version_a}-vs-{result.version_b}", tags) as run_id:
        tracker.log_params({"model_a": result.model_a, "model_b": result.model_b})
        metrics = {
            "adjusted_rand_index": result.ari,
            "same_segment_share": result.same_segment,
            "customers": float(result.customers),
        }
        for name, row in result.metrics.iterrows():
            metrics |= {f"a.{name}": row["A"], f"b.{name}": row["B"], f"diff.{name}": row["B - A"]}
        tracker.log_metrics(metrics)
        tracker.log_frame(result.mapping, "comparison/segment_mapping.csv")
        tracker.log_frame(result.counts, "comparison/segment_counts.csv")
        tracker.log_frame(result.metrics, "comparison/metric_differences.csv")
        tracker.describe(
            f"{result.model_a} vs {result.model_b} on {result.customers:,} customers of "
            f"{result.dataset}: adjusted Rand index {result.ari:.3f}."
        )
    return run_id

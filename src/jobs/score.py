"""Batch scoring with a registered model, through the model's own data contract.

A model carries how its training data was read, cleaned and turned into features
(``src.data.contract.DataContract``). ``src.predict`` applies that contract by default: with no
``dataset=`` it scores the training source again (``path=`` points the same mapping at another
file), with no ``cleaning=`` it cleans with the training rules, and the features are always the
model's. An explicit dataset mapping or cleaning that differs from the contract is allowed, and
warned about in the output and in the scoring run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from src.columns import CUSTOMER_ID, DISTANCE, SEGMENT_ID, SEGMENT_NAME
from src.config.runtime import original_cwd
from src.config.schema import DatasetConfig, PredictConfig
from src.errors import SegmentationError

# Dataset settings that decide how a file is read (the rest say where it is).
READING_FIELDS = ("type", "columns", "date_format", "format")


# The CRM export: these columns, the model's feature values, then EXPORT_TRAILER.
EXPORT_COLUMNS = (CUSTOMER_ID, SEGMENT_ID, SEGMENT_NAME, "recommended_actions", DISTANCE)
EXPORT_TRAILER = ("snapshot_date", "model_name", "model_version")
ACTION_SEPARATOR = " | "


@dataclass(frozen=True)
class Scored:
    options: PredictConfig
    # The CRM export: customer_id, segment_id, segment_name, recommended_actions,
    # distance_to_centre, the feature values, snapshot_date, model_name, model_version.
    scores: pd.DataFrame
    data: object  # src.data.prepare.Prepared
    snapshot: pd.Timestamp | None
    warnings: tuple[str, ...] = field(default=())


def check_output(path: Path) -> Path:
    if path.suffix not in (".csv", ".parquet"):
        raise SegmentationError(
            f"Output '{path}' must end in .csv or .parquet (e.g. output=segments.parquet)."
        )
    if path.is_dir():
        raise SegmentationError(
            f"Output '{path}' is a folder; name a file, e.g. {path}/segments.csv."
        )
    return path


def write_table(df: pd.DataFrame, path: Path) -> Path:
    check_output(path).parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


def contract_differences(options: PredictConfig, contract) -> list[str]:
    """Explicit choices that differ from the model's data contract, in words."""
    notes = []
    if options.cleaning is not None and options.cleaning != contract.cleaning:
        changed = [
            f.name
            for f in dataclasses.fields(contract.cleaning)
            if getattr(options.cleaning, f.name) != getattr(contract.cleaning, f.name)
        ]
        notes.append(
            "cleaning differs from the rules the model was trained with "
            f"({', '.join(changed)}); scores may not match the training segments"
        )
    if options.dataset is not None:
        changed = [
            key
            for key in READING_FIELDS
            if getattr(options.dataset, key) != getattr(contract.dataset, key)
        ]
        if changed and options.dataset.name == contract.dataset.name:
            notes.append(
                f"dataset '{options.dataset.name}' is read differently from training "
                f"({', '.join(changed)})"
            )
    return notes


def scoring_inputs(options: PredictConfig, contract) -> tuple[DatasetConfig, object]:
    """The dataset and cleaning to score with: the explicit ones, else the model's."""
    dataset = options.dataset if options.dataset is not None else contract.dataset
    if options.path is not None:
        dataset = dataclasses.replace(dataset, path=options.path)
    cleaning = options.cleaning if options.cleaning is not None else contract.cleaning
    return dataset, cleaning


def score(cfg: DictConfig) -> Scored:
    """Scores as a DataFrame (customer_id first), plus the prepared data and the warnings."""
    from src.data.contract import DataContract
    from src.data.prepare import Prepared, features_at, load_clean
    from src.tracking.registry import model_version
    from src.tracking.serving import load_segmentation_model
    from src.tracking.tracker import probe_tracking_store, resolve_tracking_uri

    options: PredictConfig = OmegaConf.to_object(cfg)
    # A store that cannot be read (or written, when the scoring is logged) is named up front.
    probe_tracking_store(resolve_tracking_uri(options.tracking_uri), writable=options.log_to_mlflow)
    model = load_segmentation_model(options.model_uri, options.tracking_uri)
    contract = DataContract.from_dict(model.contract)
    notes = contract_differences(options, contract)
    dataset_cfg, cleaning_cfg = scoring_inputs(options, contract)
    dataset, fingerprint, report = load_clean(dataset_cfg, cleaning_cfg, original_cwd())
    snapshot = options.snapshot_date
    if snapshot is None and fingerprint == contract.fingerprint:
        snapshot = contract.snapshot_date  # the training data again: its training snapshot
    features, snap = features_at(dataset, contract.features, snapshot)
    actions, note = segment_actions(model)
    if note:
        notes.append(note)
    name, version = model_version(options.model_uri, options.tracking_uri)
    export = crm_export(model.predict(features), features, actions, snap, name, version)
    if model.value_model:
        from src.value.job import export_value

        export = export_value(export, model.value_model, dataset.transactions, snap)
    data = Prepared(dataset, dataset.transactions, report, features, fingerprint, snap)
    return Scored(options, export, data, snap, tuple(notes))


def segment_actions(model) -> tuple[dict[int, list[str]], str | None]:
    """The model's recommended actions per segment; for a model stored without them, the
    current playbook's actions for its segment names (and a note saying so)."""
    if model.segment_actions:
        return dict(model.segment_actions), None
    from src.insight.naming import load_insight_config
    from src.insight.recommend import playbook_actions

    table = playbook_actions(model.segment_names, load_insight_config().get("playbook") or {})
    return (
        {int(seg): list(a) for seg, a in table["actions"].items()},
        "the model carries no recommended actions; they come from the current playbook "
        "(conf/insight/default.yaml)",
    )


def crm_export(
    predictions: pd.DataFrame,
    features: pd.DataFrame,
    actions: dict[int, list[str]],
    snapshot: pd.Timestamp | None,
    model_name: str,
    model_version: str,
) -> pd.DataFrame:
    """One row per customer, ready for a CRM import (columns of :data:`EXPORT_COLUMNS`, then the
    feature values, then :data:`EXPORT_TRAILER`). Actions are one text, joined by `` | ``."""
    out = predictions.drop(columns=[CUSTOMER_ID], errors="ignore").copy()
    out.insert(
        2,
        "recommended_actions",
        [ACTION_SEPARATOR.join(actions.get(int(s), [])) for s in out[SEGMENT_ID]],
    )
    out = out.join(features, how="left")
    out["snapshot_date"] = None if snapshot is None else str(snapshot.date())
    out["model_name"] = model_name
    out["model_version"] = model_version
    out.index.name = CUSTOMER_ID
    out = out.reset_index()
    out[CUSTOMER_ID] = out[CUSTOMER_ID].astype(str)
    return out


def recommendations(scored: Scored, n: int) -> pd.DataFrame:
    """The top-``n`` products each customer has not bought, from their segment's picks."""
    from src.insight.recommend import (
        customer_recommendations,
        product_lines,
        segment_top_products,
    )

    segments = scored.scores.set_index("customer_id")["segment_name"]
    tx = scored.data.transactions
    lines = product_lines(tx, segments)
    top = segment_top_products(lines, segments, top_n=max(10, n))
    return customer_recommendations(lines, segments, top_n=n, candidates=top)


def log_scoring(scored: Scored, output: Path) -> str:
    """One run in experiment ``segment-scoring``: the batch as inference input, the counts and
    any difference from the model's data contract."""
    from src.tracking.artifacts import frame_digest
    from src.tracking.tracker import Tracker, resolve_tracking_uri

    options = scored.options
    tracker = Tracker(resolve_tracking_uri(options.tracking_uri), "segment-scoring")
    counts = scored.scores.groupby("segment_id").size()
    tags = {
        "model_uri": options.model_uri,
        "data_fingerprint": scored.data.fingerprint,
        "output": str(output),
        "contract_warnings": " | ".join(scored.warnings) or "none",
    }
    with tracker.parent_run(f"score-{scored.data.dataset.name}", tags) as run_id:
        features = scored.data.features
        tracker.log_input(
            features,
            name=f"{scored.data.dataset.name}-customer-features",
            source=str(scored.data.dataset.source),
            digest=frame_digest(features),
            context="inference",
        )
        tracker.log_metrics(
            {"customers_scored": float(len(scored.scores))}
            | {f"customers.segment_{seg}": float(n) for seg, n in counts.items()}
        )
        tracker.describe(
            f"Scored {len(scored.scores):,} customers of {scored.data.dataset.name} with "
            f"{options.model_uri}." + ("".join(f" Warning: {w}." for w in scored.warnings))
        )
    return run_id

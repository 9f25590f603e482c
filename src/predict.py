"""Batch scoring: `python -m src.predict dataset=online_retail output=segments.parquet`.

Loads a registered model (default `models:/customer-segmentation@champion`), builds features
for any dataset config with the definition stored in the model, and writes
`customer_id, segment_id, segment_name, distance_to_centre`.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from src.config import CONF_DIR, register_configs
from src.errors import SegmentationError, report_user_errors

register_configs()


def check_output(path: Path) -> Path:
    if path.suffix not in (".csv", ".parquet"):
        raise SegmentationError(
            f"Output '{path}' must end in .csv or .parquet (e.g. output=segments.parquet)."
        )
    return path


def write_table(df, path: Path) -> Path:
    check_output(path).parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


def score(cfg: DictConfig):
    """Scores as a DataFrame (customer_id first), plus the prepared data."""
    from src.config.runtime import original_cwd
    from src.data.contract import DataContract
    from src.data.prepare import prepare_data
    from src.tracking.serving import load_segmentation_model

    model = load_segmentation_model(cfg.model_uri, cfg.tracking_uri)
    contract = DataContract.from_dict(model.contract)
    data = prepare_data(
        OmegaConf.to_object(cfg.dataset),
        OmegaConf.to_object(cfg.cleaning),
        contract.features,
        cfg.snapshot_date,
        original_cwd(),
    )
    scores = model.predict(data.features)
    scores.index.name = "customer_id"
    return scores.reset_index(), data


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="predict")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from src.config.runtime import original_cwd

    out = check_output(original_cwd() / cfg.output)
    scores, data = score(cfg)
    write_table(scores, out)
    counts = scores.groupby("segment_name").size().sort_values(ascending=False)
    print(f"Scored {len(scores):,} customers with {cfg.model_uri} -> {out}")
    for name, n in counts.items():
        print(f"    {name:<34} {n:>9,} ({n / len(scores):.1%})")
    if cfg.recommendations > 0:
        from src.insight.recommend import customer_recommendations, segment_top_products

        segments = scores.set_index("customer_id")["segment_name"]
        top = segment_top_products(data.transactions, segments, top_n=max(10, cfg.recommendations))
        recs = customer_recommendations(
            data.transactions, segments, top_n=cfg.recommendations, candidates=top
        )
        rec_path = out.with_name(f"{out.stem}_recommendations{out.suffix}")
        write_table(recs, rec_path)
        print(f"Product recommendations ({cfg.recommendations} per customer) -> {rec_path}")


if __name__ == "__main__":
    main()

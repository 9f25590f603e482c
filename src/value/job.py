"""The value step of a sweep: summary -> fit -> per customer -> per segment -> holdout -> figures.

:func:`estimate_value` takes the cleaned log (pandas or polars), the snapshot and the
segmentation's assignments and returns a :class:`LifetimeValue`, which the result carries
(``SegmentationResult.lifetime_value``), MLflow logs, the report shows and the model keeps
(``ValueParams`` as plain data) for the CRM export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from src.columns import SEGMENT_ID, SEGMENT_NAME
from src.config.schema import ValueConfig
from src.value.customer import CLV, EXPECTED_PURCHASES, P_ALIVE, customer_value
from src.value.holdout import Holdout, temporal_holdout
from src.value.models import ValueParams, fit_value_models
from src.value.segments import segment_value
from src.value.summary import btyd_summary, purchase_days


@dataclass(frozen=True)
class LifetimeValue:
    """What each customer and segment is worth, and how well the model predicted a holdout."""

    params: ValueParams
    settings: Mapping[str, Any]  # the ValueConfig that produced it, as plain values
    customers: pd.DataFrame  # per customer id: BTYD summary, p_alive, expected_*, clv
    segments: pd.DataFrame  # per segment id: src.value.segments.SEGMENT_VALUE_COLUMNS
    holdout: Holdout | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    figures: Mapping[str, bytes] = field(default_factory=dict)  # FigureId value -> PNG
    notes: tuple[str, ...] = ()  # what a reader must know to read P(alive) right


def value_settings(cfg: ValueConfig) -> dict[str, Any]:
    """What scoring needs besides the parameters (horizons, discount, threshold), JSON-able."""
    return {
        "purchase_days": cfg.purchase_days,
        "clv_months": cfg.clv_months,
        "discount_rate": cfg.discount_rate,
        "at_risk_p_alive": cfg.at_risk_p_alive,
    }


def estimate_value(
    log: Any,
    snapshot: pd.Timestamp,
    assignments: pd.DataFrame,
    cfg: ValueConfig,
    *,
    figures: bool = True,
) -> LifetimeValue:
    """Fit on the whole log up to ``snapshot``, score every customer, sum per segment."""
    daily = purchase_days(log)
    summary = btyd_summary(daily, snapshot)
    params = fit_value_models(summary, cfg)
    customers = customer_value(summary, params, cfg)
    segments = segment_value(customers, assignments, cfg.at_risk_p_alive)
    holdout = temporal_holdout(daily, snapshot, cfg) if cfg.holdout_months > 0 else None
    metrics = value_metrics(customers, params, cfg, holdout)
    drawn = draw_value_figures(customers, assignments, segments, holdout, cfg) if figures else {}
    notes = value_notes(customers, params)
    return LifetimeValue(
        params, value_settings(cfg), customers, segments, holdout, metrics, drawn, notes
    )


ALIVE = 0.99  # P(alive) above this counts as "certainly alive" in the notes


def value_notes(customers: pd.DataFrame, params: ValueParams) -> tuple[str, ...]:
    """Sentences for the report when P(alive) cannot separate customers, and why."""
    notes = []
    alive = float((customers[P_ALIVE] > ALIVE).mean())
    if alive >= 0.9:
        notes.append(
            f"The fitted model sees almost no drop-out on this log: {alive:.0%} of customers have "
            f"P(alive) above {ALIVE}. P(alive) and value at risk do not separate the segments "
            "here; expected purchases and lifetime value do (they fall with how rarely and how "
            "long ago a customer bought)."
        )
    one_day = int((customers["frequency"] == 0).sum())
    if one_day and params.model == "beta_geo":
        notes.append(
            f"{one_day:,} customers bought on one day only. BG/NBD lets a customer drop out only "
            "after a repeat purchase, so it gives them P(alive) 1 however long ago they bought "
            "(value.model=pareto_nbd does not assume this)."
        )
    return tuple(notes)


def value_metrics(
    customers: pd.DataFrame, params: ValueParams, cfg: ValueConfig, holdout: Holdout | None
) -> dict[str, float]:
    """Headline numbers under ``value.``: totals, means, the fit and the holdout errors."""
    at_risk = customers[P_ALIVE] < cfg.at_risk_p_alive
    total = float(customers[CLV].sum())
    metrics = {
        "value.customers": float(len(customers)),
        "value.mean_p_alive": float(customers[P_ALIVE].mean()),
        "value.clv_total": total,
        "value.clv_mean": float(customers[CLV].mean()),
        "value.at_risk_customer_share": float(at_risk.mean()),
        "value.at_risk_clv_share": float(customers.loc[at_risk, CLV].sum() / total)
        if total > 0
        else 0.0,
        "value.fit_seconds": params.fit_seconds,
        **{f"value.param.{k}": v for k, v in params.point().items()},
    }
    if holdout is not None:
        metrics.update({f"value.{k}": v for k, v in holdout.metrics.items()})
    return metrics


def draw_value_figures(
    customers: pd.DataFrame,
    assignments: pd.DataFrame,
    segments: pd.DataFrame,
    holdout: Holdout | None,
    cfg: ValueConfig,
) -> dict[str, bytes]:
    """PNG bytes of the value figures, keyed by their FigureId values."""
    from src.result import FigureId
    from src.viz.style import to_png
    from src.viz.value import calibration_figure, p_alive_by_segment, value_by_segment

    names = {int(s): str(n) for s, n in segments[SEGMENT_NAME].items()}
    labels = assignments[SEGMENT_ID].reindex(customers.index).to_numpy()
    out = {
        FigureId.VALUE_P_ALIVE.value: to_png(
            p_alive_by_segment(customers[P_ALIVE], labels, names, at_risk=cfg.at_risk_p_alive)
        ),
        FigureId.VALUE_BY_SEGMENT.value: to_png(value_by_segment(segments, names)),
    }
    if holdout is not None:
        out[FigureId.VALUE_CALIBRATION.value] = to_png(
            calibration_figure(
                holdout.calibration,
                cutoff=holdout.cutoff,
                days=holdout.metrics["holdout.days"],
            )
        )
    return out


def with_value(options, data, result):
    """``result`` with its :class:`LifetimeValue` and value figures when ``value`` is on; the
    model then carries the fitted value model as plain data (:func:`value_state`).

    ``options`` is the job's Config, ``data`` its Prepared (cleaned log and snapshot).
    """
    import dataclasses

    from src.jobs import console
    from src.result import FigureId

    cfg: ValueConfig = options.value
    if not cfg.enabled:
        return result
    console.say(
        f"[{options.experiment_name}] customer value: {cfg.model.value} + Gamma-Gamma "
        f"({cfg.fit.value}) on {len(result.assignments):,} customers ..."
    )
    value = estimate_value(data.transactions, data.snapshot, result.assignments, cfg)
    result.model.value_model = value_state(value)
    figures = {**result.figures, **{FigureId(k): png for k, png in value.figures.items()}}
    return dataclasses.replace(result, lifetime_value=value, figures=figures)


def value_state(value: LifetimeValue) -> dict[str, Any]:
    """What scoring needs, as JSON-able plain data: the parameters and the settings."""
    return {"params": value.params.to_dict(), "settings": dict(value.settings)}


EXPORT_VALUE_COLUMNS = (P_ALIVE, EXPECTED_PURCHASES, CLV)


def export_value(
    export: pd.DataFrame, state: Mapping[str, Any], log: Any, snapshot: pd.Timestamp
) -> pd.DataFrame:
    """The CRM export with P(alive), expected purchases and CLV of each customer at
    ``snapshot``, from the value model a SegmentationModel carries (``value_model``).

    The columns follow the segment columns' trailer; customers without a purchase before the
    snapshot get empty values.
    """
    from src.columns import CUSTOMER_ID

    params = ValueParams.from_dict(state["params"])
    settings = ValueConfig(**{k: v for k, v in state["settings"].items()})
    summary = btyd_summary(purchase_days(log), snapshot)
    values = customer_value(summary, params, settings)[list(EXPORT_VALUE_COLUMNS)]
    values = values.rename(
        columns={
            EXPECTED_PURCHASES: f"expected_purchases_{settings.purchase_days}d",
            CLV: f"clv_{settings.clv_months}m",
        }
    )
    values.index = values.index.astype(str)
    joined = export.join(values, on=CUSTOMER_ID)
    return joined

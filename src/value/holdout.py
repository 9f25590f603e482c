"""A temporal holdout: fit on the log up to a cut-off, predict the purchases after it.

As pymc-marketing's ``rfm_train_test_split`` splits it (customers first seen after the cut-off
are left out). The errors say whether to trust the value model: the per-customer mean absolute
error of holdout purchase days, against a naive baseline (each customer keeps their training
purchase rate), and the aggregate error (predicted against actual purchase days of all
customers). The calibration table holds both per number of repeat purchases in training, the
figure ``src.viz.value.calibration_figure`` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from src.config.schema import ValueConfig
from src.errors import SegmentationError
from src.value.models import ValueParams, _model_data, fit_value_models, transaction_model
from src.value.summary import train_test_summary

CALIBRATION_MAX_FREQUENCY = 7  # customers with more repeat purchases share the last bin


@dataclass(frozen=True)
class Holdout:
    """The holdout's per-customer predictions, calibration table, metrics and its own fit."""

    cutoff: pd.Timestamp
    end: pd.Timestamp
    customers: pd.DataFrame  # frequency, recency, T, test_frequency, predicted, baseline
    calibration: pd.DataFrame  # per training frequency bin: customers, actual, predicted mean
    metrics: dict[str, float]
    params: ValueParams


def holdout_cutoff(snapshot: pd.Timestamp, months: int) -> pd.Timestamp:
    """The cut-off ``months`` calendar months before the snapshot (midnight)."""
    return (pd.Timestamp(snapshot) - pd.DateOffset(months=months)).normalize()


def temporal_holdout(daily: pd.DataFrame, snapshot: pd.Timestamp, cfg: ValueConfig) -> Holdout:
    """Fit ``cfg``'s models on purchases before the cut-off and score the days after it."""
    end = pd.Timestamp(snapshot)
    cutoff = holdout_cutoff(end, cfg.holdout_months)
    first = daily["day"].min()
    if cutoff <= first:
        raise SegmentationError(
            f"value.holdout_months={cfg.holdout_months} puts the cut-off ({cutoff.date()}) at or "
            f"before the first purchase ({first.date()}); use fewer months or "
            "value.holdout_months=0."
        )
    split = train_test_summary(daily, cutoff, end)
    train = split[["frequency", "recency", "T", "monetary_value"]]
    params = fit_value_models(train, cfg)
    horizon = float(split["test_T"].iloc[0])
    predicted = transaction_model(params, train).expected_purchases(
        _model_data(train), future_t=horizon
    )
    customers = split[["frequency", "recency", "T", "test_frequency"]].copy()
    customers["predicted"] = predicted.mean(("chain", "draw")).to_numpy().astype(float)
    # Naive baseline: the training rate of purchase days (first included) over the holdout.
    customers["baseline"] = (customers["frequency"] + 1) / customers["T"] * horizon
    return Holdout(
        cutoff=cutoff,
        end=end,
        customers=customers,
        calibration=calibration_table(customers),
        metrics=holdout_metrics(customers, horizon),
        params=params,
    )


def holdout_metrics(customers: pd.DataFrame, horizon_days: float) -> dict[str, float]:
    """Per-customer MAE (model and baseline) and the aggregate error of the holdout."""
    actual = customers["test_frequency"].to_numpy(float)
    predicted = customers["predicted"].to_numpy(float)
    total_actual, total_predicted = float(actual.sum()), float(predicted.sum())
    return {
        "holdout.days": float(horizon_days),
        "holdout.customers": float(len(customers)),
        "holdout.mae": float(np.mean(np.abs(predicted - actual))),
        "holdout.baseline_mae": float(
            np.mean(np.abs(customers["baseline"].to_numpy(float) - actual))
        ),
        "holdout.actual_purchases": total_actual,
        "holdout.predicted_purchases": total_predicted,
        "holdout.aggregate_error": (total_predicted - total_actual) / total_actual
        if total_actual > 0
        else float("nan"),
    }


def calibration_table(customers: pd.DataFrame) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases per training frequency (0..7+)."""
    bins = customers["frequency"].clip(upper=CALIBRATION_MAX_FREQUENCY).astype(int)
    grouped = customers.groupby(bins.rename("train_frequency"))
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "actual": grouped["test_frequency"].mean(),
            "predicted": grouped["predicted"].mean(),
            "baseline": grouped["baseline"].mean(),
        }
    )
    return table

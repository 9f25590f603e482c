"""Per customer: P(alive) at the snapshot, expected purchases over the next days, expected
spend per purchase and the discounted lifetime value over a horizon (pymc-marketing's own
predictions, averaged over the parameter draws)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from src.config.schema import ValueConfig
from src.value.models import ValueParams, _model_data, spend_model, transaction_model

P_ALIVE = "p_alive"
EXPECTED_PURCHASES = "expected_purchases"  # over ValueConfig.purchase_days
EXPECTED_SPEND = "expected_spend"  # per purchase day (Gamma-Gamma)
CLV = "clv"  # over ValueConfig.clv_months, discounted by ValueConfig.discount_rate
VALUE_COLUMNS = (P_ALIVE, EXPECTED_PURCHASES, EXPECTED_SPEND, CLV)


def customer_value(summary: pd.DataFrame, params: ValueParams, cfg: ValueConfig) -> pd.DataFrame:
    """``summary`` (BTYD, indexed by customer_id) joined with the value columns."""
    data = _model_data(summary)
    purchases = transaction_model(params, summary)
    spend = spend_model(params, summary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # hyp2f1 near its edge for huge T
        p_alive = _mean(purchases.expected_probability_alive(data))
        expected = _mean(purchases.expected_purchases(data, future_t=cfg.purchase_days))
        per_purchase = _mean(spend.expected_customer_spend(data))
        clv = _mean(
            spend.expected_customer_lifetime_value(
                purchases,
                data.copy(),
                future_t=cfg.clv_months,
                discount_rate=cfg.discount_rate,
                time_unit="D",
            )
        )
    out = summary.copy()
    out[P_ALIVE] = p_alive
    out[EXPECTED_PURCHASES] = expected
    out[EXPECTED_SPEND] = per_purchase
    out[CLV] = clv
    return out


def _mean(values) -> np.ndarray:
    """A (chain, draw, customer_id) prediction averaged over the draws, in customer order."""
    return values.mean(("chain", "draw")).to_numpy().astype(float)

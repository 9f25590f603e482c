"""Fit the purchase-count model (BG/NBD or Pareto/NBD) and Gamma-Gamma with pymc-marketing.

MAP (one point estimate, seconds) by default, the full posterior with NUTS as an option
(``value.fit=mcmc``). What a fit keeps is :class:`ValueParams`: the parameter draws as plain
lists of floats (one draw for MAP), so a model artifact carries them as JSON and scoring
rebuilds the library's models from them (:func:`transaction_model`, :func:`spend_model`)
without a pickle.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from src.config.schema import ValueConfig, ValueFit, ValueModel
from src.errors import SegmentationError

# The population-level parameters each model's predictions read (pymc-marketing's names).
PARAMETERS = {
    ValueModel.beta_geo.value: ("r", "alpha", "a", "b"),
    ValueModel.pareto_nbd.value: ("r", "alpha", "s", "beta"),
    "gamma_gamma": ("p", "q", "v"),
}
_CLASSES = {
    ValueModel.beta_geo.value: "BetaGeoModel",
    ValueModel.pareto_nbd.value: "ParetoNBDModel",
    "gamma_gamma": "GammaGammaModel",
}


@dataclass(frozen=True)
class ValueParams:
    """A fitted value model as plain data: model names, fit method and parameter draws."""

    model: str  # ValueModel value
    fit: str  # ValueFit value
    transactions: dict[str, list[float]]  # e.g. {"r": [...], "alpha": [...], "a": [...], ...}
    spend: dict[str, list[float]]  # Gamma-Gamma {"p": [...], "q": [...], "v": [...]}
    customers: int  # customers fitted (Gamma-Gamma: those with repeat purchases)
    repeat_customers: int
    fit_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "fit": self.fit,
            "transactions": {k: list(v) for k, v in self.transactions.items()},
            "spend": {k: list(v) for k, v in self.spend.items()},
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "fit_seconds": self.fit_seconds,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ValueParams:
        return cls(
            model=str(values["model"]),
            fit=str(values["fit"]),
            transactions={k: [float(x) for x in v] for k, v in values["transactions"].items()},
            spend={k: [float(x) for x in v] for k, v in values["spend"].items()},
            customers=int(values["customers"]),
            repeat_customers=int(values["repeat_customers"]),
            fit_seconds=float(values.get("fit_seconds", 0.0)),
            extra=dict(values.get("extra", {})),
        )

    def point(self) -> dict[str, float]:
        """Posterior means (the MAP estimate itself for value.fit=map), for tables and metrics."""
        both = {**self.transactions, **{f"gg_{k}": v for k, v in self.spend.items()}}
        return {k: float(np.mean(v)) for k, v in both.items()}


def fit_value_models(summary: pd.DataFrame, cfg: ValueConfig) -> ValueParams:
    """Fit ``cfg.model`` on every customer and Gamma-Gamma on those with repeat purchases.

    ``summary`` is :func:`src.value.summary.btyd_summary`'s table (indexed by customer_id).
    """
    started = time.perf_counter()
    data = _model_data(summary)
    repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    if len(repeat) < 2:
        raise SegmentationError(
            f"Only {len(repeat)} customer(s) bought on more than one day; the spend model "
            "(Gamma-Gamma) needs repeat customers. Use a longer log or switch the value model "
            "off with value=none."
        )
    transactions = _fit(cfg.model.value, data[["customer_id", "frequency", "recency", "T"]], cfg)
    spend = _fit("gamma_gamma", repeat[["customer_id", "frequency", "monetary_value"]], cfg)
    return ValueParams(
        model=cfg.model.value,
        fit=cfg.fit.value,
        transactions=transactions,
        spend=spend,
        customers=len(data),
        repeat_customers=len(repeat),
        fit_seconds=time.perf_counter() - started,
    )


def _fit(kind: str, data: pd.DataFrame, cfg: ValueConfig) -> dict[str, list[float]]:
    model = _class(kind)()
    with warnings.catch_warnings():
        # pytensor's note about pip-installed BLAS and the library's experimental notices.
        warnings.simplefilter("ignore", UserWarning)
        if cfg.fit is ValueFit.map:
            model.fit(data, method="map", progressbar=False)
        else:
            model.fit(
                data,
                method="mcmc",
                draws=cfg.draws,
                chains=cfg.chains,
                cores=1,
                random_seed=cfg.seed,
                progressbar=False,
            )
    posterior = model.fit_result
    return {p: posterior[p].to_numpy().ravel().astype(float).tolist() for p in PARAMETERS[kind]}


def transaction_model(params: ValueParams, summary: pd.DataFrame):
    """The pymc-marketing purchase-count model for ``summary``, with ``params``' draws."""
    return _rebuilt(params.model, params.transactions, _model_data(summary))


def spend_model(params: ValueParams, summary: pd.DataFrame):
    """The pymc-marketing Gamma-Gamma model with ``params``' draws."""
    data = _model_data(summary)
    return _rebuilt(
        "gamma_gamma", params.spend, data[["customer_id", "frequency", "monetary_value"]]
    )


def _rebuilt(kind: str, draws: dict[str, list[float]], data: pd.DataFrame):
    import arviz as az
    import xarray as xr

    model = _class(kind)()
    model.build_model(data)
    model.idata = az.InferenceData(
        posterior=xr.Dataset(
            {
                name: (("chain", "draw"), np.asarray([values], dtype=float))
                for name, values in draws.items()
            }
        )
    )
    return model


def _model_data(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as the library wants it: a ``customer_id`` column, float counts.

    The library's ``customer_id`` is the row position (0..n-1), not the shop's id: it only
    labels the models' coordinates, and every prediction comes back in row order, which is how
    the callers read it. With the shop's string ids, each prediction spent most of its time on
    them (converting, comparing and checking the uniqueness of a million strings per call:
    300 s for one customer_value at a million customers); integer positions make that free.
    """
    data = summary.reset_index(drop=True)
    data.insert(0, "customer_id", np.arange(len(data), dtype=np.int64))
    return data


def _class(kind: str):
    from src.value import require

    return getattr(require(), _CLASSES[kind])

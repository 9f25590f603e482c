"""Rule-based cleaning of a canonical transaction log, with a count for every rule.

Rules run in this order, each switchable from the ``cleaning`` config node:

1. ``missing_customer_id`` - lines without a customer cannot be attributed to anyone.
2. ``cancellations`` - invoices whose id starts with ``cancellation_prefix`` ("C" in the UCI
   log).
3. ``non_positive_quantity`` - ``quantity <= 0`` (returns and corrections). Logs that only give
   an ``amount`` are judged by the sign of ``amount`` instead.
4. ``non_positive_price`` - ``unit_price <= 0`` (free samples, bad-debt adjustments).
5. ``duplicates`` - exact repeats of an earlier line (all columns equal).
6. ``non_product_codes`` - postage, fees, manual adjustments (``non_product_codes``).

``returns`` decides what happens to cancellations and negative quantities:

- ``"drop"`` (default): rules 2 and 3 remove them.
- ``"net"``: they stay, flagged ``is_return=True``, as negative amounts. Features then net
  them out of ``monetary`` while ``frequency`` and ``recency`` count purchases only; rule 3
  still removes zero quantities.

A rule whose column the log lacks (e.g. ``stock_code``) is skipped and reported as skipped.
The "classic" rule set of most Online Retail studies is rules 1-4 only; on the UCI file it
leaves 397,884 lines of 4,338 customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from src import columns as schema
from src.config.schema import CleaningConfig, Returns
from src.data.options import typed_options
from src.errors import SegmentationError

from . import ids

RULES = (
    "missing_customer_id",
    "cancellations",
    "non_positive_quantity",
    "non_positive_price",
    "duplicates",
    "non_product_codes",
)
_SWITCHES = {
    "missing_customer_id": "drop_missing_customer_id",
    "cancellations": "drop_cancellations",
    "non_positive_quantity": "drop_non_positive_quantity",
    "non_positive_price": "drop_non_positive_price",
    "duplicates": "drop_duplicates",
    "non_product_codes": "drop_non_product_codes",
}


@dataclass
class CleaningStep:
    """One rule's effect. ``skipped`` rules are switched off or lack their column."""

    rule: str
    rows_in: int
    rows_removed: int
    rows_out: int
    skipped: bool = False
    note: str = ""


@dataclass
class CleaningReport:
    steps: list[CleaningStep]
    customers_in: int
    customers_out: int
    returns_kept: int = 0

    @property
    def rows_in(self) -> int:
        return self.steps[0].rows_in if self.steps else 0

    @property
    def rows_out(self) -> int:
        return self.steps[-1].rows_out if self.steps else 0

    def to_frame(self) -> pd.DataFrame:
        """One row per rule, in the order the rules ran."""
        return pd.DataFrame([asdict(s) for s in self.steps]).set_index("rule")

    def to_dict(self) -> dict:
        """Flat numbers for logging, e.g. ``{"clean.missing_customer_id.removed": 135080}``."""
        out: dict = {"clean.rows_in": self.rows_in}
        for step in self.steps:
            out[f"clean.{step.rule}.removed"] = step.rows_removed
            if step.skipped:
                out[f"clean.{step.rule}.skipped"] = 1
        out["clean.rows_out"] = self.rows_out
        out["clean.customers_in"] = self.customers_in
        out["clean.customers_out"] = self.customers_out
        out["clean.returns_kept"] = self.returns_kept
        return out


def purchase_mask(tx: pd.DataFrame) -> np.ndarray:
    """Which lines of a cleaned log are purchases: every line but the returns.

    The cleaning rules remove returns and cancellations (``returns=drop``) or keep them
    flagged ``is_return`` (``returns=net``); every other line counts as a purchase. This is
    the one definition the features, the summary schema, the EDA tables and the product picks
    use.
    """
    if schema.IS_RETURN in tx.columns:
        return ~tx[schema.IS_RETURN].fillna(False).to_numpy(dtype=bool)
    return np.ones(len(tx), dtype=bool)


def clean_transactions(
    tx: pd.DataFrame, cfg: CleaningConfig | Mapping | None = None
) -> tuple[pd.DataFrame, CleaningReport]:
    """Apply the enabled rules in order (see the module docstring); return rows and counts.

    ``cfg`` is a ``CleaningConfig`` (a mapping of its fields is accepted; None: the defaults).
    The input is not modified. Masks are combined first and the rows taken once, except
    before ``duplicates``, which must only compare the lines that survived earlier rules.
    """
    options = cleaning_config(cfg)
    net = options.returns is Returns.net
    n_rows = len(tx)
    if n_rows == 0:
        raise SegmentationError(
            "the transaction log has no rows, so there is nothing to clean or segment. "
            "Check dataset.path and that the file holds data lines below its header."
        )
    customer_codes, _ = ids.codes(tx[schema.CUSTOMER_ID])
    lines_per_customer = np.bincount(customer_codes[customer_codes >= 0])
    customers_in = int(np.count_nonzero(lines_per_customer))

    keep = np.ones(n_rows, dtype=bool)
    returns = np.zeros(n_rows, dtype=bool)
    steps: list[CleaningStep] = []

    def record(rule: str, drop: np.ndarray | None, note: str = "") -> None:
        rows_in = int(keep.sum())
        if drop is None:
            steps.append(CleaningStep(rule, rows_in, 0, rows_in, skipped=True, note=note))
            return
        removed = int(np.count_nonzero(keep & drop))
        keep[drop] = False
        steps.append(CleaningStep(rule, rows_in, removed, rows_in - removed, note=note))

    for rule in RULES[:4]:
        drop, flag, note = _rule_mask(tx, rule, options, net)
        if flag is not None:
            returns |= flag
        record(rule, drop, note)

    out = tx
    if options.drop_duplicates:
        out = tx[keep]
        returns = returns[keep]
        customer_codes = customer_codes[keep]
        keep = np.ones(len(out), dtype=bool)
        record("duplicates", out.duplicated().to_numpy())
    else:
        record("duplicates", None, "switched off")

    drop, _, note = _rule_mask(out, "non_product_codes", options, net)
    record("non_product_codes", drop, note)

    if not keep.any():
        _raise_empty(steps)
    if not keep.all():
        rows = np.flatnonzero(keep)
        out = out.take(rows)
        returns = returns[rows]
        customer_codes = customer_codes[rows]
    out = out.reset_index(drop=True)
    for column in (schema.CUSTOMER_ID, schema.INVOICE_ID):
        if column in out:
            out[column] = ids.compact(out[column])
    if net:
        out = out.assign(**{schema.IS_RETURN: returns})
    lines_per_customer = np.bincount(customer_codes[customer_codes >= 0])
    report = CleaningReport(
        steps=steps,
        customers_in=customers_in,
        customers_out=int(np.count_nonzero(lines_per_customer)),
        returns_kept=int(returns.sum()),
    )
    return out, report


def _rule_mask(
    tx: pd.DataFrame, rule: str, options: CleaningConfig, net: bool
) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """(rows to drop or None when skipped, rows to flag as returns or None, note)."""
    if not getattr(options, _SWITCHES[rule]):
        return None, None, "switched off"
    if rule == "missing_customer_id":
        return tx[schema.CUSTOMER_ID].isna().to_numpy(), None, ""
    if rule == "cancellations":
        if schema.INVOICE_ID not in tx:
            return None, None, "no invoice_id column"
        prefix = str(options.cancellation_prefix)
        cancelled = ids.starts_with(tx[schema.INVOICE_ID], prefix)
        if net:
            return np.zeros(len(tx), dtype=bool), cancelled, "kept as returns (returns=net)"
        return cancelled, None, ""
    if rule == "non_positive_quantity":
        column = schema.QUANTITY if schema.QUANTITY in tx else schema.AMOUNT
        if column not in tx:
            return None, None, "no quantity or amount column"
        values = tx[column].to_numpy(dtype="float64", na_value=np.nan)
        note = "" if column == schema.QUANTITY else "judged by the sign of amount"
        if net:
            return (values == 0) | np.isnan(values), values < 0, note or "negatives kept as returns"
        return ~(values > 0), None, note
    if rule == "non_positive_price":
        if schema.UNIT_PRICE not in tx:
            return None, None, "no unit_price column"
        return ~(tx[schema.UNIT_PRICE].to_numpy(dtype="float64", na_value=np.nan) > 0), None, ""
    if rule == "non_product_codes":
        if schema.STOCK_CODE not in tx:
            return None, None, "no stock_code column"
        codes = [str(c) for c in options.non_product_codes]
        return tx[schema.STOCK_CODE].isin(codes).to_numpy(), None, ""
    raise AssertionError(rule)


def cleaning_config(cfg: CleaningConfig | Mapping | None) -> CleaningConfig:
    """The typed cleaning options (a mapping of ``CleaningConfig`` fields is checked first)."""
    if isinstance(cfg, Mapping):
        cfg = {k: v for k, v in cfg.items() if k != "name"}
    return typed_options(CleaningConfig, cfg, "cleaning")


def _raise_empty(steps: list[CleaningStep]) -> None:
    last = next(s for s in reversed(steps) if s.rows_removed and s.rows_out == 0)
    switch = _SWITCHES[last.rule]
    raise SegmentationError(
        f"cleaning removed every row: rule {last.rule!r} removed the last {last.rows_removed:,} "
        f"of {steps[0].rows_in:,} lines. Check the column mapping behind that rule, or relax "
        f"it with cleaning.{switch}=false (or cleaning=none for a log cleaned upstream)."
    )

"""What a valid feature table is: the domain rule of each feature, checked before scoring.

A model scores only rows its features can describe: recency and length are whole days >= 0,
frequency is at least one purchase, the discount share lies in [0, 1], spend is a finite amount
(negative with ``cleaning.returns=net``), and a customer cannot have bought last before they
started. Every scoring path (``SegmentationModel.predict`` in Python, batch scoring, the REST
server) runs :func:`validate_features`, which rejects a table with one error that names each
broken rule, its column and the rows (by ``customer_id`` where there is one) instead of
scoring nonsense. The rules travel with the model as plain data (``FeatureRule.to_dict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from src.columns import CUSTOMER_ID, DISCOUNT_RATE, FREQUENCY, LENGTH, MONETARY, RECENCY
from src.errors import SegmentationError

__all__ = [
    "DOMAIN_RULES",
    "FeatureRule",
    "feature_rules",
    "validate_features",
]

# Rows named in an error message, per broken rule.
_SHOWN_ROWS = 5


@dataclass(frozen=True)
class FeatureRule:
    """The valid values of one feature: finite, within [minimum, maximum], whole if asked.

    ``not_below`` names another feature this one may not be smaller than (length >= recency).
    """

    minimum: float | None = None
    maximum: float | None = None
    whole: bool = False
    not_below: str | None = None

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a finite number"
        if self.minimum is not None and self.maximum is not None:
            return f"{kind} in [{self.minimum:g}, {self.maximum:g}]"
        if self.minimum is not None:
            return f"{kind} >= {self.minimum:g}"
        if self.maximum is not None:
            return f"{kind} <= {self.maximum:g}"
        return kind

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FeatureRule:
        return cls(**values)


DOMAIN_RULES: dict[str, FeatureRule] = {
    LENGTH: FeatureRule(minimum=0, whole=True, not_below=RECENCY),
    RECENCY: FeatureRule(minimum=0, whole=True),
    FREQUENCY: FeatureRule(minimum=1),
    MONETARY: FeatureRule(),
    DISCOUNT_RATE: FeatureRule(minimum=0, maximum=1),
}


def feature_rules(feature_names: list[str]) -> dict[str, FeatureRule]:
    """The rule of each feature; a feature the project does not define need only be finite.

    A ``not_below`` partner that is not among the features is dropped.
    """
    rules = {}
    for name in feature_names:
        rule = DOMAIN_RULES.get(name, FeatureRule())
        if rule.not_below is not None and rule.not_below not in feature_names:
            rule = FeatureRule(rule.minimum, rule.maximum, rule.whole)
        rules[name] = rule
    return rules


def _row_labels(features: pd.DataFrame, mask: np.ndarray, by_position: bool = False) -> str:
    """The first offending rows by customer id (column or index), else by position."""
    n = int(mask.sum())
    if by_position:
        labels = np.flatnonzero(mask)
        where = "positions "
    elif CUSTOMER_ID in features.columns:
        labels = features[CUSTOMER_ID].to_numpy()[mask]
        where = f"{CUSTOMER_ID} "
    elif features.index.name == CUSTOMER_ID:
        labels = features.index.to_numpy()[mask]
        where = f"{CUSTOMER_ID} "
    else:
        labels = np.flatnonzero(mask)
        where = "positions "
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in labels[:_SHOWN_ROWS])
    more = f" and {n - _SHOWN_ROWS:,} more" if n > _SHOWN_ROWS else ""
    return f"{n:,} row(s) ({where}{shown}{more})"


def _numeric(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The column as float64, and the mask of values that are present but not numbers.

    Numbers written as text ("5") count as numbers; booleans do not (they are neither counts
    nor amounts).
    """
    if pd.api.types.is_bool_dtype(column.dtype):
        return np.full(len(column), np.nan), np.ones(len(column), dtype=bool)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(column), bool)
    raw = column.astype(object)
    is_bool = raw.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    values = pd.to_numeric(raw.where(~is_bool), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    return values, (raw.notna().to_numpy() & np.isnan(values)) | is_bool


def validate_features(features: pd.DataFrame, rules: dict[str, FeatureRule]) -> pd.DataFrame:
    """The feature columns as float64, or a SegmentationError naming every broken rule.

    Checks, per column: present; a number (not text, not a boolean); not missing (null, NaN);
    finite; whole where the rule says so; within the rule's bounds; not below its partner.
    A ``customer_id`` column, when given, must have no missing ids.
    """
    if not isinstance(features, pd.DataFrame):
        raise SegmentationError(
            f"Scoring needs a table (pandas DataFrame) of customer features, got "
            f"{type(features).__name__}."
        )
    names = list(rules)
    missing = [c for c in names if c not in features.columns]
    if missing:
        raise SegmentationError(
            f"The input lacks the feature column(s) {missing}; this model needs {names} "
            f"(found {list(features.columns)})."
        )
    if len(features) == 0:
        raise SegmentationError(
            f"The input has no rows; send at least one customer with the columns {names}."
        )
    problems: list[str] = []
    if CUSTOMER_ID in features.columns:
        no_id = features[CUSTOMER_ID].isna().to_numpy()
        if no_id.any():
            problems.append(
                f"{CUSTOMER_ID} is missing in {_row_labels(features, no_id, by_position=True)}"
            )
    values: dict[str, np.ndarray] = {}
    for name, rule in rules.items():
        x, not_number = _numeric(features[name])
        values[name] = x
        checks = [
            (not_number, "is not a number"),
            (~not_number & np.isnan(x), "is missing (null or NaN)"),
            (np.isinf(x), "is infinite"),
        ]
        outside = np.zeros(len(x), dtype=bool)
        with np.errstate(invalid="ignore"):
            if rule.whole:
                outside |= np.floor(x) != x
            if rule.minimum is not None:
                outside |= x < rule.minimum
            if rule.maximum is not None:
                outside |= x > rule.maximum
        checks.append((np.isfinite(x) & outside, f"must be {rule.describe()}"))
        for mask, what in checks:
            if mask.any():
                problems.append(f"{name} {what} in {_row_labels(features, mask)}")
    for name, rule in rules.items():
        if rule.not_below is None:
            continue
        x, floor = values[name], values[rule.not_below]
        mask = np.isfinite(x) & np.isfinite(floor) & (x < floor)
        if mask.any():
            problems.append(
                f"{name} must be >= {rule.not_below} (a customer starts before their last "
                f"purchase) in {_row_labels(features, mask)}"
            )
    if problems:
        raise SegmentationError(
            "Invalid feature values, nothing scored: "
            + "; ".join(problems)
            + ". Fix or drop these rows (feature definitions: README, 'Feature definitions')."
        )
    return pd.DataFrame(values, index=features.index, columns=names)

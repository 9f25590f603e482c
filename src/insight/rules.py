"""Plain rules that find each segment: "recency <= 30 days and orders >= 10".

A segment is only useful to a CRM team if they can pull it from their own system. Following the
Online Retail study by Chen, Sain and Guo (2012), a shallow decision tree is fitted on the
segment labels with the features in their own units; every leaf whose customers are mostly
from one segment becomes a rule for that segment (its path from the root, each feature's bounds
merged), and a segment's rule is the union of its leaves. Thresholds are rounded to what a person
would type (whole days and orders, spend to two significant figures, shares to whole percent),
and precision and coverage are measured on the rounded rules, exactly as shown::

    precision = customers matching the rule who are in the segment / customers matching the rule
    coverage  = customers of the segment matching the rule / customers of the segment

The tree is scikit-learn's; only turning its paths into text is written here (scikit-learn's
``export_text`` prints the whole tree, not one rule per class).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from src.columns import (
    DISCOUNT_RATE,
    FREQUENCY,
    LENGTH,
    MONETARY,
    RECENCY,
    SEGMENT_ID,
    SEGMENT_NAME,
)

RULE_COLUMNS = (SEGMENT_ID, SEGMENT_NAME, "rule", "precision", "coverage", "customers_matched")
NO_RULE = "no simple rule found"

# How a condition reads: (name, unit, integral, is_share).
_WORDS: dict[str, tuple[str, str, bool, bool]] = {
    RECENCY: ("recency", " days", True, False),
    LENGTH: ("tenure", " days", True, False),
    FREQUENCY: ("orders", "", True, False),
    MONETARY: ("spend", "", False, False),
    DISCOUNT_RATE: ("discounted orders", "", False, True),
}


@dataclass(frozen=True)
class Bound:
    """``low < x <= high`` for one feature (either side open)."""

    feature: str
    low: float = -math.inf
    high: float = math.inf

    def mask(self, values: np.ndarray) -> np.ndarray:
        return (values > self.low) & (values <= self.high)

    def text(self) -> str:
        name, unit, integral, is_share = _WORDS.get(self.feature, (self.feature, "", False, False))

        def show(v: float) -> str:
            if is_share:
                return f"{v:.0%}"
            if integral:
                return f"{int(v):,}{unit}"
            return f"{v:,.0f}{unit}" if abs(v) >= 100 else f"{v:,.2f}{unit}"

        parts = []
        if integral:
            # On whole numbers x > t means x >= floor(t) + 1, and x <= t means x <= floor(t).
            if math.isfinite(self.low) and math.isfinite(self.high):
                low, high = math.floor(self.low) + 1, math.floor(self.high)
                if low == high:
                    return f"{name} {low:,}{unit}"
                return f"{name} {low:,} to {high:,}{unit}"
            if math.isfinite(self.low):
                parts.append(f"{name} >= {show(math.floor(self.low) + 1)}")
            if math.isfinite(self.high):
                parts.append(f"{name} <= {show(math.floor(self.high))}")
            return " and ".join(parts)
        if math.isfinite(self.low) and math.isfinite(self.high):
            return f"{name} above {show(self.low)} to {show(self.high)}"
        if math.isfinite(self.low):
            return f"{name} > {show(self.low)}"
        return f"{name} <= {show(self.high)}"


def _round_threshold(feature: str, value: float) -> float:
    """A threshold as a person would state it; whole-number features keep theirs exactly."""
    _, _, integral, is_share = _WORDS.get(feature, (feature, "", False, False))
    if integral:
        return float(math.floor(value) + 0.5)  # same split on whole numbers
    if is_share:
        return round(value, 2)
    if value == 0:
        return 0.0
    digits = 1 - int(math.floor(math.log10(abs(value))))
    return round(value, digits)


def _leaf_paths(tree, columns: list[str]) -> dict[int, list[Bound]]:
    """Leaf node id -> the merged bounds along its path from the root."""
    t = tree.tree_
    paths: dict[int, list[Bound]] = {}

    def walk(node: int, bounds: dict[str, Bound]) -> None:
        if t.children_left[node] == -1:
            paths[node] = [bounds[c] for c in columns if c in bounds]
            return
        feature = columns[t.feature[node]]
        cut = _round_threshold(feature, float(t.threshold[node]))
        current = bounds.get(feature, Bound(feature))
        left = Bound(feature, current.low, min(current.high, cut))
        right = Bound(feature, max(current.low, cut), current.high)
        walk(t.children_left[node], {**bounds, feature: left})
        walk(t.children_right[node], {**bounds, feature: right})

    walk(0, {})
    return paths


def _matches(frame: pd.DataFrame, bounds: list[Bound]) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for b in bounds:
        mask &= b.mask(frame[b.feature].to_numpy(dtype=float))
    return mask


def _rule_for(X: pd.DataFrame, in_seg: np.ndarray, columns, max_depth, min_leaf, seed):
    """The leaves of a one-vs-rest tree where the segment is the majority, as bounds."""
    tree = DecisionTreeClassifier(
        max_depth=max_depth, min_samples_leaf=min_leaf, random_state=seed
    ).fit(X.to_numpy(), in_seg)
    scored = []
    for bounds in _leaf_paths(tree, columns).values():
        mask = _matches(X, bounds)
        n, hits = int(mask.sum()), int((mask & in_seg).sum())
        if hits:
            scored.append((hits / n, hits, bounds, mask))
    own = [s for s in scored if s[0] > 0.5]
    # No leaf where the segment is the majority: the purest leaf, so the segment still has a
    # rule and its precision says how weak it is.
    return sorted(own, key=lambda s: -s[1]) or sorted(scored, key=lambda s: (-s[0], -s[1]))[:1]


def _merge_adjacent(paths: list[list[Bound]]) -> list[list[Bound]]:
    """Join two rules that differ only in one feature's adjacent ranges (sibling leaves of the
    tree): "spend > 4,700" or "spend <= 4,700" with the rest alike is the rest alone."""
    paths = [{b.feature: b for b in p} for p in paths]
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(paths)), 2):
            a, b = paths[i], paths[j]
            differ = [f for f in a.keys() | b.keys() if a.get(f) != b.get(f)]
            if len(differ) != 1 or differ[0] not in a or differ[0] not in b:
                continue
            x, y = sorted((a[differ[0]], b[differ[0]]), key=lambda bound: bound.low)
            if x.high != y.low:
                continue
            joined = {**a, differ[0]: Bound(differ[0], x.low, y.high)}
            if math.isinf(x.low) and math.isinf(y.high):
                del joined[differ[0]]
            paths[i] = joined
            del paths[j]
            merged = True
            break
    return [list(p.values()) for p in paths]


def segment_rules(
    features: pd.DataFrame,
    labels,
    names: Mapping[int, str],
    *,
    max_depth: int = 3,
    min_leaf_share: float = 0.01,
    random_state: int = 0,
) -> pd.DataFrame:
    """One row per segment (index segment_id): its rule in words, precision, coverage and the
    customers the rule matches.

    ``labels`` holds one segment id per row of ``features`` (in the model's feature units). Each
    segment gets its own tree (segment against the rest) of at most ``max_depth`` conditions
    per leaf, leaves holding at least ``min_leaf_share`` of customers; its rule is the union of
    the leaves where the segment is the majority.
    """
    labels = np.asarray(labels)
    columns = list(features.columns)
    X = features[columns].astype(float)
    min_leaf = max(1, int(math.ceil(min_leaf_share * len(X))))
    rows = []
    for seg in np.unique(labels).tolist():
        in_seg = labels == seg
        leaves = _rule_for(X, in_seg, columns, max_depth, min_leaf, random_state)
        row = {SEGMENT_ID: seg, SEGMENT_NAME: names.get(int(seg), f"Segment {seg}")}
        if not leaves:
            rows.append(
                {
                    **row,
                    "rule": NO_RULE,
                    "precision": np.nan,
                    "coverage": 0.0,
                    "customers_matched": 0,
                }
            )
            continue
        mask = np.logical_or.reduce([leaf[3] for leaf in leaves])
        texts = [
            " and ".join(b.text() for b in bounds) or "every customer"
            for bounds in _merge_adjacent([leaf[2] for leaf in leaves])
        ]
        matched = int(mask.sum())
        rows.append(
            {
                **row,
                "rule": " OR ".join(f"({t})" if len(texts) > 1 else t for t in texts),
                "precision": float((mask & in_seg).sum() / matched),
                "coverage": float((mask & in_seg).sum() / in_seg.sum()),
                "customers_matched": matched,
            }
        )
    return pd.DataFrame(rows, columns=list(RULE_COLUMNS)).set_index(SEGMENT_ID)

"""Segment names: turn cluster profiles into names, descriptions and feature levels.

Marketing can only act on a cluster once it has a name. The names come from an ordered rule table
in the ``insight`` config (``conf/insight/default.yaml``, section ``naming``), so they can be
renamed or re-thresholded without touching code.

How a cluster is judged
    Every feature of a cluster is compared with the whole customer population in log1p space
    (sign-preserving, so spend netted below zero by returns stays finite)::

        z = (log1p(centre) - mean(log1p(population))) / std(log1p(population))

    Spend, order counts and tenure are strongly right-skewed; in raw units a handful of very large
    accounts inflate the population spread so much that every other cluster looks "average". The
    cluster ``centre`` is its median when the profile has a ``median_<feature>`` column (as
    :func:`segment_profile` provides): the median commutes with log1p, so it is the cluster's
    centre in log space, and it is not dragged upward by a few big spenders. Profiles without
    medians fall back to the mean.

Levels and conditions
    Four thresholds from ``naming.levels`` cut the z-score into five levels: very_low, low, mid,
    high and very_high (``z >= high`` is high, ``z >= very_high`` very high, ``z <= low`` low, and
    so on; very_high/very_low default to twice high/low). A rule condition is one of
    ``very_high``, ``high`` (high or very high), ``mid``, ``low`` (low or very low),
    ``very_low``, ``not_high`` (below high) or ``not_low`` (above low). The "very" tier tells the
    best customers from merely good ones. Recency is days since the last purchase, so
    ``recency: low`` means "bought recently".

Rules
    Rules are tried in order and the first match wins. A rule that mentions a feature the data
    lacks (length or discount on RFM-only data) never matches. Clusters that match no rule get the
    ``fallback`` name. Several rules may share a name (two ways to reach the same segment).

Recency first
    Whether a cluster is lapsed (recency high) or active decides which names it can get before
    tenure, discount use or anything else is consulted: a rule that does not mention recency
    applies to active clusters only (as if it said ``recency: not_high``). A cluster that has
    not bought for a long time is therefore never "New customers" or "Discount hunters", however
    short its tenure or heavy its discount use.

No name against the evidence
    A rule whose condition says a feature is high (``high``/``very_high``) is skipped when the
    cluster's typical customer is not above all customers' typical customer in real units
    (median against median; means when the profile has no medians), and one that says low when
    it is not below. Segment cards show exactly that comparison and the z-scores, so a "Loyal"
    segment always buys more often than the typical customer and "Champions" spend more: the
    level (a z-score) and the card's "vs all" never disagree in sign.

Duplicates
    Two clusters never share a name silently. Duplicates are told apart by the feature on which
    they differ most (largest z-score range): two clusters become e.g. "Loyal (higher spend)" and
    "Loyal (lower spend)"; three or more are numbered, "Loyal 1" being the most recent / most
    frequent / highest spending / longest-standing / most discount-using on that feature.
    :func:`base_name` strips these qualifiers again (used to look up playbook actions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from src.columns import (
    DISCOUNT_RATE,
    FREQUENCY,
    LENGTH,
    MONETARY,
    RECENCY,
    SEGMENT_ID,
    SEGMENT_NAME,
)
from src.errors import SegmentationError
from src.model.transformers import signed_log1p

CONFIG_PATH = Path(__file__).resolve().parents[2] / "conf" / "insight" / "default.yaml"
_WHERE = "the insight config (conf/insight/default.yaml)"

# Rule keys -> feature columns.
FEATURE_KEYS: dict[str, str] = {
    "recency": RECENCY,
    "frequency": FREQUENCY,
    "monetary": MONETARY,
    "length": LENGTH,
    "discount": DISCOUNT_RATE,
}

# Condition -> the levels it accepts ("high" includes "very_high", and so on).
CONDITIONS: dict[str, frozenset[str]] = {
    "very_high": frozenset({"very_high"}),
    "high": frozenset({"high", "very_high"}),
    "mid": frozenset({"mid"}),
    "low": frozenset({"low", "very_low"}),
    "very_low": frozenset({"very_low"}),
    "not_high": frozenset({"mid", "low", "very_low"}),
    "not_low": frozenset({"mid", "high", "very_high"}),
}
_LEVEL_KEYS = ("very_low", "low", "high", "very_high")

# Words for telling two same-named clusters apart: (higher z, lower z).
_QUALIFIERS: dict[str, tuple[str, str]] = {
    "monetary": ("higher spend", "lower spend"),
    "frequency": ("more frequent", "less frequent"),
    "recency": ("less recent", "more recent"),
    "length": ("longer tenure", "shorter tenure"),
    "discount": ("more discount use", "less discount use"),
}
# Preferred qualifier on equal spread: spend first, it is what marketing ranks by.
_QUALIFIER_ORDER = ("monetary", "frequency", "recency", "length", "discount")

# Plain-words summary of a level, for the segment cards.
_SUMMARY_WORDS: dict[str, dict[str, str]] = {
    "recency": {"low": "bought recently", "high": "last purchase long ago"},
    "frequency": {"high": "buys often", "low": "buys rarely"},
    "monetary": {"high": "high spend", "low": "low spend"},
    "length": {"high": "long-standing customer", "low": "joined recently"},
    "discount": {"high": "heavy discount use", "low": "rarely uses discounts"},
}

_QUALIFIER_RE = re.compile(r"\s*\([^()]*\)$|\s+\d+$")


@dataclass(frozen=True)
class Rule:
    """One named segment and the feature levels a cluster needs to earn the name."""

    name: str
    when: Mapping[str, str]
    description: str = ""

    def matches(self, levels: Mapping[str, str]) -> bool:
        """Every condition holds; a rule silent on recency matches active clusters only."""
        if "recency" not in self.when and levels.get("recency") in CONDITIONS["high"]:
            return False
        return all(
            key in levels and levels[key] in CONDITIONS[cond] for key, cond in self.when.items()
        )

    def contradictions(self, relative: Mapping[str, float]) -> list[str]:
        """Conditions the cluster's profile contradicts, e.g. ``frequency high`` for a cluster
        that buys less often than the typical customer (``relative``: rule key -> the cluster
        against the population, as :func:`relative_to_population` gives it)."""
        out = []
        for key, cond in self.when.items():
            diff = relative.get(key)
            if diff is None or not np.isfinite(diff):
                continue
            if (cond in ("high", "very_high") and diff <= 0) or (
                cond in ("low", "very_low") and diff >= 0
            ):
                out.append(f"{key} {cond}")
        return out


@dataclass(frozen=True)
class NamingRules:
    """Validated ``naming`` section of the insight config."""

    very_low: float
    low: float
    high: float
    very_high: float
    rules: tuple[Rule, ...]
    fallback: Rule


def load_insight_config(path: str | Path | None = None) -> dict[str, Any]:
    """Read the insight config outside Hydra (reports, notebooks); defaults to the shipped YAML."""
    from omegaconf import OmegaConf

    path = Path(path) if path is not None else CONFIG_PATH
    if not path.is_file():
        raise SegmentationError(
            f"The insight config file {path} does not exist. Pass the path of a YAML file shaped "
            f"like conf/insight/default.yaml (sections naming and playbook)."
        )
    return to_plain(OmegaConf.to_container(OmegaConf.load(path), resolve=True))


def to_plain(obj: Any) -> Any:
    """Recursively turn mappings/sequences (including OmegaConf containers) into dict/list."""
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes):
        return [to_plain(v) for v in obj]
    return obj


def section(cfg: Mapping, name: str) -> Any:
    """Accept either the whole insight config or just one of its sections."""
    cfg = to_plain(cfg)
    if not isinstance(cfg, Mapping):
        raise SegmentationError(
            f"The {name} section of {_WHERE} must be a mapping, got {type(cfg).__name__}. "
            f"Check the indentation of the YAML file."
        )
    inner = cfg.get(name)
    return inner if isinstance(inner, Mapping) else cfg


def parse_naming_rules(rules_cfg: Mapping) -> NamingRules:
    """Validate the naming section so a typo fails loudly instead of silently never matching."""
    cfg = section(rules_cfg, "naming")
    unknown = sorted(set(cfg) - {"levels", "rules", "fallback"})
    if unknown:
        raise SegmentationError(
            f"Unknown key(s) {', '.join(map(repr, unknown))} in the naming section of {_WHERE}; "
            f"valid keys are levels, rules and fallback."
        )
    thresholds = _parse_levels(cfg.get("levels", {"high": 0.5, "low": -0.5}))
    raw_rules = cfg.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise SegmentationError(
            f"naming.rules in {_WHERE} must be a non-empty list of rules, each with name, when "
            f"and description, got {raw_rules!r}."
        )
    rules = tuple(_parse_rule(raw, i) for i, raw in enumerate(raw_rules, start=1))
    fallback_raw = cfg.get("fallback", {"name": "Average customers"})
    if isinstance(fallback_raw, str):
        fallback_raw = {"name": fallback_raw}
    if not isinstance(fallback_raw, Mapping):
        raise SegmentationError(
            f"naming.fallback in {_WHERE} must be a name or a mapping with name and description, "
            f"got {fallback_raw!r}."
        )
    fallback = _parse_rule({"when": {}, **fallback_raw}, "fallback")
    if fallback.when:
        raise SegmentationError(
            f"naming.fallback in {_WHERE} must not have conditions (it names clusters that match "
            f"no rule); remove its 'when' key."
        )
    return NamingRules(**thresholds, rules=rules, fallback=fallback)


def _parse_levels(levels: Any) -> dict[str, float]:
    example = "{very_high: 1.0, high: 0.5, low: -0.5, very_low: -1.0}"
    if (
        not isinstance(levels, Mapping)
        or not {"high", "low"} <= set(levels)
        or not set(levels) <= set(_LEVEL_KEYS)
    ):
        raise SegmentationError(
            f"naming.levels in {_WHERE} must be a mapping with the keys high and low and "
            f"optionally very_high and very_low (z-score thresholds, e.g. {example}), "
            f"got {levels!r}."
        )
    try:
        values = {key: float(value) for key, value in levels.items()}
    except (TypeError, ValueError):
        raise SegmentationError(
            f"naming.levels in {_WHERE} must hold numbers (z-scores), got {dict(levels)!r}."
        ) from None
    values.setdefault("very_high", 2 * values["high"])
    values.setdefault("very_low", 2 * values["low"])
    ordered = [values[key] for key in _LEVEL_KEYS]
    if not all(a < b for a, b in zip(ordered, ordered[1:], strict=False)):
        raise SegmentationError(
            f"naming.levels in {_WHERE} must increase: very_low < low < high < very_high, got "
            f"{', '.join(f'{k}={values[k]}' for k in _LEVEL_KEYS)}; e.g. {example}. "
            f"Otherwise a cluster could be both high and low."
        )
    return values


def _parse_rule(raw: Any, position: int | str) -> Rule:
    where = f"naming rule {position}" if isinstance(position, int) else f"naming.{position}"
    if not isinstance(raw, Mapping):
        raise SegmentationError(
            f"{where} in {_WHERE} must be a mapping with name, when and description, got {raw!r}."
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SegmentationError(f"{where} in {_WHERE} needs a non-empty 'name', got {name!r}.")
    label = f"{where} ({name!r}) in {_WHERE}"
    unknown = sorted(set(raw) - {"name", "when", "description"})
    if unknown:
        raise SegmentationError(
            f"{label} has unknown key(s) {', '.join(map(repr, unknown))}; valid keys are name, "
            f"when and description."
        )
    when = raw.get("when") or {}
    if not isinstance(when, Mapping):
        raise SegmentationError(
            f"{label} needs 'when' to be a mapping of feature to level, e.g. "
            f"{{recency: low, frequency: high}}, got {when!r}."
        )
    for key, cond in when.items():
        if key not in FEATURE_KEYS:
            raise SegmentationError(
                f"{label} uses unknown feature {key!r}; valid features are "
                f"{', '.join(FEATURE_KEYS)}."
            )
        if cond not in CONDITIONS:
            raise SegmentationError(
                f"{label} uses unknown level {cond!r} for {key}; valid levels are "
                f"{', '.join(CONDITIONS)}."
            )
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise SegmentationError(f"{label} needs 'description' to be text, got {description!r}.")
    return Rule(name=name.strip(), when=dict(when), description=description.strip())


def base_name(name: str) -> str:
    """Strip the qualifier that tells duplicate names apart ("Loyal (higher spend)" -> "Loyal")."""
    return _QUALIFIER_RE.sub("", name).strip() or name


def segment_profile(features: pd.DataFrame, labels: Any) -> pd.DataFrame:
    """Size, share, mean and median of every feature per segment (index segment_id).

    ``labels`` is positional (array-like, one per feature row) or a Series indexed like
    ``features``. Unlabelled rows (NaN) are left out; noise labels such as -1 stay a segment.
    """
    labels = _align_labels(features, labels)
    numeric = features.select_dtypes("number")
    groups = numeric.groupby(labels, sort=True)
    sizes = groups.size()
    profile = pd.concat(
        [
            sizes.rename("n_customers"),
            (sizes / sizes.sum()).rename("share"),
            groups.mean(),
            groups.median().add_prefix("median_"),
        ],
        axis=1,
    )
    profile.index.name = SEGMENT_ID
    return profile


def _align_labels(features: pd.DataFrame, labels: Any) -> pd.Series:
    if isinstance(labels, pd.Series) and labels.index.isin(features.index).all():
        if not labels.index.is_unique:
            raise ValueError("labels has a duplicated index; expected one label per customer")
        aligned = labels.reindex(features.index)
    else:
        values = np.asarray(labels)
        if values.ndim != 1 or len(values) != len(features):
            raise ValueError(
                f"labels has {values.size} values for {len(features)} feature rows; "
                f"pass one label per row (or a Series indexed like the features)"
            )
        aligned = pd.Series(values, index=features.index)
    return aligned.rename(SEGMENT_ID)


def feature_z_scores(profile: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """z-score of each cluster centre vs the population in log1p space (columns = rule keys)."""
    z = {}
    for key, col in FEATURE_KEYS.items():
        centre_col = f"median_{col}" if f"median_{col}" in profile.columns else col
        if centre_col not in profile.columns or col not in population.columns:
            continue
        pop = signed_log1p(pd.to_numeric(population[col], errors="coerce").to_numpy(float))
        mean, std = np.nanmean(pop), np.nanstd(pop)
        centre = signed_log1p(profile[centre_col].to_numpy(float))
        z[key] = (centre - mean) / std if std > 0 else np.zeros(len(profile))
    return pd.DataFrame(z, index=profile.index)


def _levels(z: pd.DataFrame, rules: NamingRules) -> pd.DataFrame:
    levels = np.select(
        [z.isna(), z >= rules.very_high, z >= rules.high, z <= rules.very_low, z <= rules.low],
        ["n/a", "very_high", "high", "very_low", "low"],  # n/a matches no condition
        default="mid",
    )
    return pd.DataFrame(levels, index=z.index, columns=z.columns)


def relative_to_population(profile: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Each cluster's typical customer against all customers' (columns = rule keys).

    ``median / population median - 1`` when the profile has ``median_<feature>`` columns, else
    ``mean / population mean - 1``: the "vs all" figure a segment card shows.
    """
    out = {}
    for key, col in FEATURE_KEYS.items():
        if col not in profile.columns or col not in population.columns:
            continue
        values = pd.to_numeric(population[col], errors="coerce")
        if f"median_{col}" in profile.columns:
            centre, base = profile[f"median_{col}"].to_numpy(float), float(values.median())
        else:
            centre, base = profile[col].to_numpy(float), float(values.mean())
        with np.errstate(divide="ignore", invalid="ignore"):
            out[key] = centre / base - 1 if base else np.sign(centre) * np.inf
    return pd.DataFrame(out, index=profile.index)


def _match(levels: pd.DataFrame, relative: pd.DataFrame, rules: NamingRules) -> dict[Any, Rule]:
    matched = {}
    for seg, row in levels.iterrows():
        row_levels = row.to_dict()
        rel = relative.loc[seg].to_dict() if seg in relative.index else {}
        matched[seg] = next(
            (r for r in rules.rules if r.matches(row_levels) and not r.contradictions(rel)),
            rules.fallback,
        )
    return matched


def _qualify(base: dict[Any, str], z: pd.DataFrame) -> dict[Any, str]:
    names = dict(base)
    groups: dict[str, list] = {}
    for seg in sorted(base, key=_sort_key):
        groups.setdefault(base[seg], []).append(seg)
    for name, segs in groups.items():
        if len(segs) < 2:
            continue
        dup = z.loc[segs]
        spread = {k: float(np.nanmax(dup[k]) - np.nanmin(dup[k])) for k in dup.columns}
        spread = {k: v for k, v in spread.items() if np.isfinite(v) and v > 0}
        if not spread:
            for i, seg in enumerate(segs, start=1):
                names[seg] = f"{name} {i}"
            continue
        key = max(_QUALIFIER_ORDER, key=lambda k: (spread.get(k, -1.0), -_QUALIFIER_ORDER.index(k)))
        # Best first: most recent (lowest recency), otherwise the highest value; ties by id.
        sign = 1.0 if key == "recency" else -1.0
        ordered = sorted(segs, key=lambda s: (sign * dup.at[s, key], _sort_key(s)))
        if len(ordered) == 2:
            higher, lower = _QUALIFIERS[key]
            best_word, worst_word = (lower, higher) if key == "recency" else (higher, lower)
            names[ordered[0]] = f"{name} ({best_word})"
            names[ordered[1]] = f"{name} ({worst_word})"
        else:
            for i, seg in enumerate(ordered, start=1):
                names[seg] = f"{name} {i}"
    # A qualified name can still clash with a rule literally called e.g. "Loyal 2".
    taken = pd.Series(names).duplicated(keep="first")
    for seg in taken[taken].index:
        names[seg] = f"{names[seg]} (segment {seg})"
    return names


def _sort_key(seg: Any) -> tuple:
    return (0, seg, "") if isinstance(seg, int | np.integer | float) else (1, 0, str(seg))


def _summary(levels: Mapping[str, str]) -> str:
    words = [
        _SUMMARY_WORDS[k][lvl.removeprefix("very_")]
        for k, lvl in levels.items()
        if lvl.removeprefix("very_") in _SUMMARY_WORDS[k]
    ]
    if not words:
        return "Close to the typical customer on every feature."
    text = ", ".join(words)
    return text[0].upper() + text[1:] + "."


def describe_segments(
    profile: pd.DataFrame, population: pd.DataFrame, rules_cfg: Mapping
) -> pd.DataFrame:
    """Name, description, plain-words summary, level and z-score per feature for every segment.

    Columns: segment_name, description, summary, ``<feature>_level`` and ``<feature>_z`` for each
    feature present in both the profile and the population (feature = column name, e.g.
    ``recency_days_level``).
    """
    rules = parse_naming_rules(rules_cfg)
    z = feature_z_scores(profile, population)
    if z.columns.empty:
        raise SegmentationError(
            f"None of the features {', '.join(FEATURE_KEYS.values())} is in both the segment "
            f"profile and the population table, so segments cannot be named. Pass the customer "
            f"feature table (columns from src.columns) and its segment profile."
        )
    levels = _levels(z, rules)
    matched = _match(levels, relative_to_population(profile, population), rules)
    names = _qualify({seg: rule.name for seg, rule in matched.items()}, z)
    out = pd.DataFrame(
        {
            SEGMENT_NAME: pd.Series(names),
            "description": pd.Series({seg: rule.description for seg, rule in matched.items()}),
            "summary": pd.Series({seg: _summary(levels.loc[seg].to_dict()) for seg in z.index}),
        },
        index=z.index,
    )
    for key in z.columns:
        out[f"{FEATURE_KEYS[key]}_level"] = levels[key]
    for key in z.columns:
        out[f"{FEATURE_KEYS[key]}_z"] = z[key]
    out.index.name = SEGMENT_ID
    return out


def name_segments(
    profile: pd.DataFrame, population: pd.DataFrame, rules_cfg: Mapping
) -> dict[Any, str]:
    """Segment id -> unique human name, judged against the population (see module docstring)."""
    described = describe_segments(profile, population, rules_cfg)
    return {
        (seg.item() if isinstance(seg, np.generic) else seg): name
        for seg, name in described[SEGMENT_NAME].items()
    }

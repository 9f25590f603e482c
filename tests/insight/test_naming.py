"""Segment naming: rules judged against the population, unique names, config validation."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from src.columns import (
    DISCOUNT_RATE,
    FREQUENCY,
    LENGTH,
    LRFMC_FEATURES,
    MONETARY,
    RECENCY,
    RFM_FEATURES,
)
from src.errors import SegmentationError
from src.insight.naming import (
    base_name,
    describe_segments,
    load_insight_config,
    name_segments,
    segment_profile,
)

# Planted customer groups: (length_days, recency_days, frequency, monetary, discount_rate).
GROUPS = {
    "champions": (700, 8, 25, 5000, 0.05),
    "lapsed": (600, 330, 1, 60, 0.05),
    "bargain": (400, 40, 6, 600, 0.8),
    "dormant_members": (900, 45, 1, 150, 0.05),
    "newcomers": (30, 10, 1, 120, 0.05),
    "regular": (500, 60, 6, 700, 0.1),
}


def make_population(groups=GROUPS, n=40, seed=0) -> tuple[pd.DataFrame, pd.Series]:
    """Customers scattered around each group's centre (multiplicative noise, like real spend)."""
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for i, centre in enumerate(groups.values()):
        noise = rng.lognormal(0.0, 0.15, size=(n, len(centre)))
        frames.append(pd.DataFrame(np.asarray(centre) * noise, columns=list(LRFMC_FEATURES)))
        labels += [i] * n
    features = pd.concat(frames, ignore_index=True)
    features[DISCOUNT_RATE] = features[DISCOUNT_RATE].clip(0, 1)
    features.index = pd.Index([f"C{i:04d}" for i in range(len(features))], name="customer_id")
    return features, pd.Series(labels, index=features.index, name="label")


@pytest.fixture(scope="module")
def cfg() -> dict:
    return load_insight_config()


@pytest.fixture(scope="module")
def population() -> tuple[pd.DataFrame, pd.Series]:
    return make_population()


@pytest.fixture(scope="module")
def names(population, cfg) -> dict[str, str]:
    features, labels = population
    named = name_segments(segment_profile(features, labels), features, cfg)
    return {group: named[i] for i, group in enumerate(GROUPS)}


@pytest.mark.parametrize(
    ("group", "allowed"),
    [
        ("champions", {"Champions"}),
        ("lapsed", {"Lost", "Hibernating"}),
        ("bargain", {"Discount hunters"}),
        ("dormant_members", {"Long-standing low-activity"}),
        ("newcomers", {"New customers"}),
    ],
)
def test_planted_groups_get_their_names(names, group, allowed):
    assert names[group] in allowed


def test_names_are_unique(names):
    assert len(set(names.values())) == len(names)


def test_rfm_only_data_never_uses_length_or_discount_rules(population, cfg):
    features, labels = population
    rfm = features[list(RFM_FEATURES)]
    named = name_segments(segment_profile(rfm, labels), rfm, cfg)
    assert not {"Discount hunters", "Long-standing low-activity"} & {
        base_name(n) for n in named.values()
    }


def test_champions_on_rfm_only_data(population, cfg):
    features, labels = population
    rfm = features[list(RFM_FEATURES)]
    assert name_segments(segment_profile(rfm, labels), rfm, cfg)[0] == "Champions"


def test_names_independent_of_row_order(population, cfg):
    features, labels = population
    order = np.random.default_rng(1).permutation(len(features))
    shuffled, shuffled_labels = features.iloc[order], labels.iloc[order]
    assert name_segments(segment_profile(shuffled, shuffled_labels), shuffled, cfg) == (
        name_segments(segment_profile(features, labels), features, cfg)
    )


def test_profile_aligns_series_labels_by_customer(population):
    features, labels = population
    shuffled_labels = labels.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(
        segment_profile(features, shuffled_labels), segment_profile(features, labels.to_numpy())
    )


def test_profile_sizes_shares_and_means(population):
    features, labels = population
    profile = segment_profile(features, labels)
    expected = features.groupby(labels.to_numpy()).mean()
    assert profile["n_customers"].sum() == len(features)
    assert profile["share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(profile[list(LRFMC_FEATURES)], expected)
    np.testing.assert_allclose(
        profile[f"median_{MONETARY}"], features.groupby(labels)[MONETARY].median()
    )


def test_profile_rejects_wrong_label_length(population):
    features, _ = population
    with pytest.raises(ValueError, match="labels"):
        segment_profile(features, [0, 1, 2])


def test_duplicate_names_are_qualified_by_the_distinguishing_feature(cfg):
    groups = {**GROUPS, "lapsed_cheap": (600, 330, 1, 25, 0.05)}
    features, labels = make_population(groups)
    named = name_segments(segment_profile(features, labels), features, cfg)
    assert (named[1], named[6]) == ("Lost (higher spend)", "Lost (lower spend)")


def test_three_duplicates_are_numbered_best_first(cfg):
    groups = {
        **GROUPS,
        "lapsed_cheapest": (600, 330, 1, 15, 0.05),
        "lapsed_cheap": (600, 330, 1, 30, 0.05),
    }
    features, labels = make_population(groups)
    named = name_segments(segment_profile(features, labels), features, cfg)
    assert [named[1], named[7], named[6]] == ["Lost 1", "Lost 2", "Lost 3"]


def test_qualifier_is_deterministic_for_identical_profiles(cfg):
    features, labels = make_population({"a": GROUPS["champions"], "b": GROUPS["lapsed"]})
    profile = segment_profile(features, labels)
    twin = profile.loc[[0, 0, 1]].set_axis([0, 1, 2])
    named = name_segments(twin, features, cfg)
    assert named[0] != named[1]
    assert named == name_segments(twin, features, cfg)


def test_describe_segments_reports_levels_and_z(population, cfg):
    features, labels = population
    described = describe_segments(segment_profile(features, labels), features, cfg)
    champions = described.loc[0]
    assert champions[f"{RECENCY}_level"] in {"low", "very_low"}
    assert champions[f"{FREQUENCY}_level"] in {"high", "very_high"}
    assert champions[f"{FREQUENCY}_z"] > 0 > champions[f"{RECENCY}_z"]
    assert champions["description"]
    assert "bought recently" in champions["summary"].lower()


def test_profile_without_medians_is_judged_on_means(population, cfg):
    features, labels = population
    means_only = features.groupby(labels).mean()
    assert name_segments(means_only, features, cfg)[0] == "Champions"


def test_thresholds_come_from_config(population, cfg):
    features, labels = population
    strict = copy.deepcopy(cfg)
    strict["naming"]["levels"] = {"high": 50.0, "low": -50.0}
    named = name_segments(segment_profile(features, labels), features, strict)
    assert {base_name(n) for n in named.values()} == {"Average customers"}


def test_rules_can_be_renamed_in_config(population, cfg):
    features, labels = population
    renamed = copy.deepcopy(cfg)
    renamed["naming"]["rules"][0]["name"] = "VIP"
    assert name_segments(segment_profile(features, labels), features, renamed)[0] == "VIP"


def test_accepts_naming_section_alone(population, cfg):
    features, labels = population
    profile = segment_profile(features, labels)
    assert name_segments(profile, features, cfg["naming"]) == name_segments(profile, features, cfg)


def _with_rule(cfg: dict, rule: dict) -> dict:
    bad = copy.deepcopy(cfg)
    bad["naming"]["rules"].insert(0, rule)
    return bad


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"name": "Big", "when": {"spend": "high"}}, ["'Big'", "'spend'", "monetary"]),
        ({"name": "Big", "when": {"monetary": "huge"}}, ["'Big'", "'huge'", "not_high"]),
        ({"name": "Big", "when": ["monetary"]}, ["'Big'", "mapping"]),
        ({"name": "Big", "if": {"monetary": "high"}}, ["'Big'", "'if'", "when"]),
        ({"when": {"monetary": "high"}}, ["rule 1", "name"]),
    ],
)
def test_bad_rule_names_rule_and_valid_values(population, cfg, rule, expected):
    features, labels = population
    with pytest.raises(SegmentationError) as err:
        name_segments(segment_profile(features, labels), features, _with_rule(cfg, rule))
    for part in [*expected, "conf/insight/default.yaml"]:
        assert part in str(err.value)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ({"high": -0.5, "low": 0.5}, "must increase"),
        ({"high": 0.5, "low": -0.5, "very_high": 0.4}, "must increase"),
        ({"high": 0.5, "low": -0.5, "extreme": 2.0}, "optionally very_high"),
        ({"high": "big", "low": -0.5}, "numbers"),
        ({"high": 0.5}, "the keys high and low"),
    ],
)
def test_bad_levels(population, cfg, levels, expected):
    features, labels = population
    bad = copy.deepcopy(cfg)
    bad["naming"]["levels"] = levels
    with pytest.raises(SegmentationError, match=expected):
        name_segments(segment_profile(features, labels), features, bad)


def test_no_common_features_is_an_error(population, cfg):
    features, labels = population
    other = features.set_axis([f"x{i}" for i in range(features.shape[1])], axis=1)
    with pytest.raises(SegmentationError, match="cannot be named"):
        name_segments(segment_profile(other, labels), other, cfg)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Loyal (higher spend)", "Loyal"),
        ("Loyal 2", "Loyal"),
        ("Can't lose them", "Can't lose them"),
        ("Long-standing low-activity (more recent)", "Long-standing low-activity"),
    ],
)
def test_base_name(name, expected):
    assert base_name(name) == expected


def test_default_config_names_have_playbook_entries(cfg):
    rule_names = {r["name"] for r in cfg["naming"]["rules"]} | {cfg["naming"]["fallback"]["name"]}
    required = {
        "Champions", "Loyal", "Potential loyalists", "New customers", "Need attention",
        "At risk", "Can't lose them", "Hibernating", "Lost", "Discount hunters",
        "Long-standing low-activity",
    }  # fmt: skip
    assert required <= rule_names
    assert rule_names <= set(cfg["playbook"])
    assert "default" in cfg["playbook"]


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(SegmentationError, match="does not exist"):
        load_insight_config(tmp_path / "nope.yaml")


def _lrfmc_from_log(tx: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """Plain-groupby LRFMC on purchase lines, enough to check names on generated data."""
    lines = tx[tx["customer_id"].notna() & (tx["quantity"] > 0) & (tx["unit_price"] > 0)]
    lines = lines[~lines["invoice_id"].astype(str).str.startswith("C")]
    lines = lines.assign(discounted=lines["discount"] > 0)
    orders = lines.groupby(["customer_id", "invoice_id"]).agg(
        date=("invoice_date", "max"), amount=("amount", "sum"), discounted=("discounted", "max")
    )
    per = orders.groupby(level="customer_id").agg(
        last=("date", "max"),
        first=("date", "min"),
        frequency=("amount", "size"),
        monetary=("amount", "sum"),
        discount_rate=("discounted", "mean"),
    )
    start = per["first"]
    if "signup_date" in lines.columns:
        start = lines.groupby("customer_id")["signup_date"].min().fillna(start)
    return pd.DataFrame(
        {
            LENGTH: (snapshot.normalize() - start.dt.normalize()).dt.days.astype(float),
            RECENCY: (snapshot.normalize() - per["last"].dt.normalize()).dt.days.astype(float),
            FREQUENCY: per["frequency"].astype(float),
            MONETARY: per["monetary"].astype(float),
            DISCOUNT_RATE: per["discount_rate"],
        }
    )


def test_names_look_sensible_on_synthetic_log(cfg):
    synthetic = pytest.importorskip("src.data.synthetic")
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    data = synthetic.generate_transactions(n_customers=2000, seed=0)
    features = _lrfmc_from_log(data.transactions, data.snapshot_date)
    scaled = StandardScaler().fit_transform(np.log1p(features))
    labels = KMeans(6, n_init=4, random_state=0).fit_predict(scaled)
    named = name_segments(segment_profile(features, labels), features, cfg)
    planted = data.labels.reindex(features.index)
    majority = pd.crosstab(labels, planted).idxmax(axis=1)
    by_planted = {majority[seg]: base_name(name) for seg, name in named.items()}
    expected = {
        "champions": {"Champions"},
        "new": {"New customers"},
        "discount_hunters": {"Discount hunters"},
        "hibernating": {"Lost", "Hibernating"},
        "at_risk": {"At risk", "Can't lose them"},
        "loyal": {"Loyal", "Potential loyalists"},
    }
    for segment, allowed in expected.items():
        if segment in by_planted:
            assert by_planted[segment] in allowed, (segment, by_planted[segment])
    assert len(set(named.values())) == len(named)


def test_very_high_condition_picks_only_the_extreme_cluster(population, cfg):
    features, labels = population
    whales = _with_rule(cfg, {"name": "Whales", "when": {"monetary": "very_high"}})
    named = name_segments(segment_profile(features, labels), features, whales)
    assert [seg for seg, name in named.items() if name == "Whales"] == [0]


def test_qualified_names_never_clash_with_rule_names(cfg):
    groups = {
        **GROUPS,
        "lapsed_cheapest": (600, 330, 1, 15, 0.05),
        "lapsed_cheap": (600, 330, 1, 30, 0.05),
    }
    clash = copy.deepcopy(cfg)
    clash["naming"]["rules"][0]["name"] = "Lost 2"
    features, labels = make_population(groups)
    named = name_segments(segment_profile(features, labels), features, clash)
    assert named[0].startswith("Lost 2")
    assert len(set(named.values())) == len(named)


# --- every rule, on profiles built in code ----------------------------------------------------

# A z-score inside each level of the default thresholds (very_low <= -1 < low <= -0.35 ...).
LEVEL_Z = {"very_low": -1.5, "low": -0.6, "mid": 0.0, "high": 0.6, "very_high": 1.5}
LAPSED_NAMES = {"Can't lose them", "At risk", "Lost", "Hibernating"}
KEY_COLUMNS = {
    "recency": RECENCY,
    "frequency": FREQUENCY,
    "monetary": MONETARY,
    "length": LENGTH,
    "discount": DISCOUNT_RATE,
}


@pytest.fixture(scope="module")
def log_normal_population() -> pd.DataFrame:
    """Customers whose log1p features are normal, so median and log-mean agree."""
    rng = np.random.default_rng(0)
    centres = {RECENCY: 4.0, FREQUENCY: 1.5, MONETARY: 6.0, LENGTH: 6.0, DISCOUNT_RATE: 0.1}
    spread = {RECENCY: 1.0, FREQUENCY: 0.6, MONETARY: 1.2, LENGTH: 0.7, DISCOUNT_RATE: 0.05}
    return pd.DataFrame(
        {c: np.expm1(rng.normal(centres[c], spread[c], 4000)) for c in LRFMC_FEATURES}
    )


def profile_at(population: pd.DataFrame, levels: dict[str, str]) -> pd.DataFrame:
    """A one-segment profile whose median (and mean) sits at the given level of each feature."""
    row = {}
    for key, col in KEY_COLUMNS.items():
        logs = np.log1p(population[col])
        value = float(np.expm1(logs.mean() + LEVEL_Z[levels.get(key, "mid")] * logs.std(ddof=0)))
        row[col] = row[f"median_{col}"] = value
    return pd.DataFrame([row], index=pd.Index([0], name="segment_id"))


def _satisfying(cond: str) -> list[str]:
    from src.insight.naming import CONDITIONS

    return sorted(CONDITIONS[cond], key=list(LEVEL_Z).index)


def test_every_rule_of_the_default_table_names_some_profile(cfg, log_normal_population):
    """No rule is dead: for each, some profile meeting its conditions gets its name."""
    import itertools

    from src.insight.naming import parse_naming_rules

    rules = parse_naming_rules(cfg)
    for rule in rules.rules:
        keys = list(KEY_COLUMNS)
        # The rule's own features at every level that meets it; the others mid, low or high.
        options = [
            _satisfying(rule.when[k]) if k in rule.when else ["mid", "low", "high"] for k in keys
        ]
        names = set()
        for combo in itertools.product(*options):
            profile = profile_at(log_normal_population, dict(zip(keys, combo, strict=True)))
            names.add(name_segments(profile, log_normal_population, cfg)[0])
            if rule.name in names:
                break
        assert rule.name in names, (rule.name, rule.when, names)


@pytest.mark.parametrize("length", ["very_low", "low"])
def test_a_lapsed_segment_with_short_tenure_is_not_new(cfg, log_normal_population, length):
    profile = profile_at(
        log_normal_population,
        {"recency": "very_high", "frequency": "low", "monetary": "low", "length": length},
    )
    assert name_segments(profile, log_normal_population, cfg)[0] in LAPSED_NAMES


def test_a_lapsed_discount_user_is_named_for_being_lapsed(cfg, log_normal_population):
    profile = profile_at(log_normal_population, {"recency": "high", "discount": "very_high"})
    assert name_segments(profile, log_normal_population, cfg)[0] in LAPSED_NAMES


def test_names_of_high_traits_need_the_typical_customer_above_all_customers(cfg):
    """Means-only profile: log1p(mean) looks high although the mean is below the population's,
    the case where a card showed "Loyal" with -18% frequency and -33% spend."""
    rng = np.random.default_rng(3)
    population = pd.DataFrame(
        {
            RECENCY: rng.integers(0, 365, 2000).astype(float),
            FREQUENCY: np.where(rng.random(2000) < 0.05, 80.0, rng.integers(1, 4, 2000)),
            MONETARY: np.where(rng.random(2000) < 0.05, 40000.0, rng.lognormal(5, 0.5, 2000)),
        }
    )
    segment = {RECENCY: 20.0, FREQUENCY: 0.8 * population[FREQUENCY].mean()}
    segment[MONETARY] = 0.7 * population[MONETARY].mean()
    profile = pd.DataFrame([segment], index=pd.Index([0], name="segment_id"))
    described = describe_segments(profile, population, cfg).iloc[0]
    assert described[f"{FREQUENCY}_level"] in {"high", "very_high"}  # the z-score alone says so
    assert base_name(described["segment_name"]) not in {"Loyal", "Champions", "Big spenders"}


@pytest.mark.parametrize("name", ["Champions", "Loyal"])
def test_champions_and_loyal_buy_more_often_than_the_typical_customer(cfg, name, population):
    features, labels = population
    profile = segment_profile(features, labels)
    described = describe_segments(profile, features, cfg)
    median = features[FREQUENCY].median()
    for seg, row in described.iterrows():
        if base_name(row["segment_name"]) == name:
            assert profile.loc[seg, f"median_{FREQUENCY}"] > median


def test_a_contradicted_rule_is_skipped_for_the_next_one(cfg):
    from src.insight.naming import Rule

    rule = Rule("Loyal", {"recency": "not_high", "frequency": "high"})
    assert rule.contradictions({"recency": -0.5, "frequency": -0.18}) == ["frequency high"]
    assert rule.contradictions({"recency": -0.5, "frequency": 0.4}) == []


def test_a_rule_silent_on_recency_matches_active_clusters_only():
    from src.insight.naming import Rule

    rule = Rule("New customers", {"length": "low"})
    assert rule.matches({"recency": "mid", "length": "low"})
    assert not rule.matches({"recency": "high", "length": "low"})

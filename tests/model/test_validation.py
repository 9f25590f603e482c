"""The domain rule of each feature, as scoring checks it before anything is scored."""

import numpy as np
import pandas as pd
import pytest

from src.columns import LRFMC_FEATURES, RFM_FEATURES
from src.errors import SegmentationError
from src.model.validation import FeatureRule, feature_rules, validate_features

LRFMC = feature_rules(list(LRFMC_FEATURES))


def customers(**changes) -> pd.DataFrame:
    """Two valid LRFMC customers (integer whole-day columns, as people pass them)."""
    frame = pd.DataFrame(
        {
            "customer_id": [101, 102],
            "length_days": [700, 400],
            "recency_days": [5, 300],
            "frequency": [25, 2],
            "monetary": [4200.0, 90.0],
            "discount_rate": [0.1, 0.0],
        }
    )
    for column, values in changes.items():
        frame[column] = pd.Series(values, dtype=object) if None in values else values
    return frame


def rejected(frame: pd.DataFrame, rules=LRFMC) -> str:
    with pytest.raises(SegmentationError) as info:
        validate_features(frame, rules)
    return str(info.value)


def test_valid_integer_columns_come_back_as_float64_in_model_order():
    out = validate_features(customers(), LRFMC)
    assert list(out.columns) == list(LRFMC_FEATURES)
    assert (out.dtypes == "float64").all()
    assert out["recency_days"].tolist() == [5.0, 300.0]


@pytest.mark.parametrize(
    ("column", "values", "rule"),
    [
        ("recency_days", [-1, 300], "recency_days must be a whole number >= 0"),
        ("recency_days", [2.5, 300], "recency_days must be a whole number >= 0"),
        ("length_days", [-3, 400], "length_days must be a whole number >= 0"),
        ("frequency", [0, 2], "frequency must be a finite number >= 1"),
        ("discount_rate", [3.0, 0.0], "discount_rate must be a finite number in [0, 1]"),
        ("discount_rate", [-0.1, 0.0], "discount_rate must be a finite number in [0, 1]"),
    ],
)
def test_a_value_outside_its_domain_names_column_rule_and_customer(column, values, rule):
    message = rejected(customers(**{column: values}))
    assert rule in message
    assert "customer_id 101" in message
    assert "102" not in message


def test_length_below_recency_is_rejected():
    message = rejected(customers(length_days=[4, 400]))
    assert "length_days must be >= recency_days" in message
    assert "customer_id 101" in message


@pytest.mark.parametrize(
    ("values", "what"),
    [
        ([None, 90.0], "monetary is missing (null or NaN)"),
        ([np.nan, 90.0], "monetary is missing (null or NaN)"),
        ([np.inf, 90.0], "monetary is infinite"),
        ([-np.inf, 90.0], "monetary is infinite"),
        (["lots", 90.0], "monetary is not a number"),
        ([True, 90.0], "monetary is not a number"),
    ],
)
def test_missing_infinite_or_non_numeric_values_are_named(values, what):
    message = rejected(customers(monetary=values))
    assert what in message and "customer_id 101" in message


def test_negative_spend_is_a_valid_amount():
    """With cleaning.returns=net, returns can outweigh purchases."""
    out = validate_features(customers(monetary=[-20.0, 90.0]), LRFMC)
    assert out["monetary"].iloc[0] == -20.0


def test_numbers_sent_as_text_are_numbers():
    out = validate_features(customers(frequency=["25", "2"]), LRFMC)
    assert out["frequency"].tolist() == [25.0, 2.0]


def test_every_broken_rule_is_reported_at_once():
    message = rejected(customers(recency_days=[-1, 300], discount_rate=[0.1, 3.0]))
    assert "recency_days" in message and "discount_rate" in message
    assert "customer_id 101" in message and "customer_id 102" in message


def test_rows_are_named_by_position_without_ids_and_long_lists_are_cut():
    frame = pd.DataFrame({"recency_days": [-1] * 8, "frequency": [1] * 8, "monetary": [1.0] * 8})
    message = rejected(frame, feature_rules(list(RFM_FEATURES)))
    assert "8 row(s) (positions 0, 1, 2, 3, 4 and 3 more)" in message


def test_rows_are_named_by_a_customer_id_index():
    frame = customers(recency_days=[-1, 300]).set_index("customer_id")
    assert "customer_id 101" in rejected(frame)


def test_missing_customer_id_is_rejected():
    message = rejected(customers(customer_id=[101, None]))
    assert "customer_id is missing in 1 row(s) (positions 1)" in message


def test_missing_column_names_what_the_model_needs():
    message = rejected(customers().drop(columns="frequency"))
    assert "lacks the feature column(s) ['frequency']" in message


def test_no_rows_is_rejected():
    assert "no rows" in rejected(customers().iloc[:0])


def test_a_feature_the_project_does_not_define_need_only_be_finite():
    rules = feature_rules(["recency_days", "visits_per_week"])
    assert rules["visits_per_week"] == FeatureRule()
    frame = pd.DataFrame({"recency_days": [1, 2], "visits_per_week": [-0.5, 3.25]})
    assert validate_features(frame, rules)["visits_per_week"].tolist() == [-0.5, 3.25]


def test_length_rule_without_recency_drops_the_comparison():
    assert feature_rules(["length_days"])["length_days"].not_below is None


def test_rules_round_trip_as_plain_data():
    rule = LRFMC["length_days"]
    assert FeatureRule.from_dict(rule.to_dict()) == rule

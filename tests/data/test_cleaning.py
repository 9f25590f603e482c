from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from src import columns as schema
from src.config.schema import CleaningConfig
from src.data.cleaning import RULES, CleaningReport, clean_transactions, purchase_mask
from src.errors import SegmentationError

ALL_OFF = {f"drop_{rule}": False for rule in RULES}


def dirty_log() -> pd.DataFrame:
    """One clean line per customer plus one line that breaks each rule (named in ``note``)."""
    rows = [
        # customer, invoice, stock, quantity, price, note
        ("a", "1", "85123A", 2.0, 3.0, "ok"),
        ("b", "2", "22633", 1.0, 5.0, "ok"),
        ("c", "3", "22634", 4.0, 1.5, "ok"),
        (None, "4", "22635", 1.0, 2.0, "missing_customer_id"),
        ("a", "C5", "85123A", -2.0, 3.0, "cancellations"),
        ("b", "6", "22633", -1.0, 5.0, "non_positive_quantity"),
        ("b", "7", "22633", 0.0, 5.0, "non_positive_quantity"),
        ("c", "8", "22636", 3.0, 0.0, "non_positive_price"),
        ("a", "1", "85123A", 2.0, 3.0, "duplicates"),
        ("c", "9", "POST", 1.0, 18.0, "non_product_codes"),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            schema.CUSTOMER_ID,
            schema.INVOICE_ID,
            schema.STOCK_CODE,
            schema.QUANTITY,
            schema.UNIT_PRICE,
            "note",
        ],
    )
    frame[schema.CUSTOMER_ID] = frame[schema.CUSTOMER_ID].astype("str")
    frame[schema.INVOICE_DATE] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.arange(len(frame)), unit="h"
    )
    frame.loc[8, schema.INVOICE_DATE] = frame.loc[0, schema.INVOICE_DATE]
    frame[schema.AMOUNT] = frame[schema.QUANTITY] * frame[schema.UNIT_PRICE]
    return frame


def clean_without_note(tx: pd.DataFrame, cfg=None):
    """Clean a log whose ``note`` column must not make duplicates look distinct (as pandas).

    Mappings get ``returns=drop`` unless they say otherwise: these tests are about each rule's
    own lines; what ``returns=match`` adds is tested on its own below.
    """
    if cfg is None or isinstance(cfg, dict):
        cfg = {"returns": "drop", **(cfg or {})}
    cleaned, report = clean_transactions(pl.from_pandas(tx.drop(columns="note")), cfg)
    return cleaned.to_pandas(), report


# Rows of dirty_log() that each rule removes when it runs alone (the cancellation is also a
# negative quantity).
REMOVED_ALONE = {
    "missing_customer_id": [3],
    "cancellations": [4],
    "non_positive_quantity": [4, 5, 6],
    "non_positive_price": [7],
    "duplicates": [8],
    "non_product_codes": [9],
}


@pytest.mark.parametrize(("rule", "removed"), REMOVED_ALONE.items())
def test_each_rule_alone_removes_its_lines(rule, removed):
    tx = dirty_log()
    cleaned, _ = clean_without_note(tx, {**ALL_OFF, f"drop_{rule}": True})
    expected = tx.drop(index=removed).drop(columns="note").reset_index(drop=True)
    pd.testing.assert_frame_equal(cleaned, expected)


@pytest.mark.parametrize(("rule", "removed"), REMOVED_ALONE.items())
def test_each_rule_is_counted_under_its_name(rule, removed):
    _, report = clean_without_note(dirty_log(), {**ALL_OFF, f"drop_{rule}": True})
    counts = report.to_frame()["rows_removed"]
    assert counts[rule] == len(removed)
    assert counts.drop(rule).eq(0).all()


@pytest.mark.parametrize("rule", RULES)
def test_switched_off_rule_is_reported_as_skipped(rule):
    _, report = clean_without_note(dirty_log(), {f"drop_{rule}": False})
    assert report.to_frame().loc[rule, "skipped"]
    assert report.to_dict()[f"clean.{rule}.skipped"] == 1


def test_default_rules_leave_only_clean_lines():
    tx = dirty_log()
    cleaned, _ = clean_without_note(tx)
    expected = tx[tx["note"] == "ok"].drop(columns="note").reset_index(drop=True)
    pd.testing.assert_frame_equal(cleaned, expected)


def test_steps_run_in_documented_order():
    _, report = clean_without_note(dirty_log())
    assert [step.rule for step in report.steps] == list(RULES)


def test_report_counts_add_up():
    _, report = clean_without_note(dirty_log())
    for before, after in zip(report.steps, report.steps[1:], strict=False):
        assert after.rows_in == before.rows_out
    for step in report.steps:
        assert step.rows_in - step.rows_removed == step.rows_out
    assert report.rows_in - sum(s.rows_removed for s in report.steps) == report.rows_out


def test_report_counts_customers():
    cleaned, report = clean_without_note(dirty_log())
    assert report.customers_in == 3
    assert report.customers_out == cleaned[schema.CUSTOMER_ID].nunique()


def test_customer_with_only_bad_lines_is_not_counted_out():
    tx = dirty_log()
    tx.loc[tx[schema.CUSTOMER_ID] == "b", schema.UNIT_PRICE] = 0.0
    _, report = clean_without_note(tx)
    assert (report.customers_in, report.customers_out) == (3, 2)


def test_classic_rules_skip_duplicates_and_non_products(classic_cleaning):
    tx = dirty_log()
    cleaned, report = clean_without_note(tx, classic_cleaning)
    frame = report.to_frame()
    assert frame.loc[["duplicates", "non_product_codes"], "skipped"].all()
    assert len(cleaned) == (tx["note"].isin(["ok", "duplicates", "non_product_codes"])).sum()


def test_rule_without_its_column_is_skipped_and_reported():
    tx = dirty_log().drop(columns=schema.STOCK_CODE)
    cleaned, report = clean_without_note(tx)
    step = report.to_frame().loc["non_product_codes"]
    assert step["skipped"]
    assert step["rows_removed"] == 0
    assert "stock_code" in step["note"]
    assert len(cleaned) == 4  # the three clean lines and the postage line


def test_custom_non_product_codes():
    cleaned, _ = clean_without_note(
        dirty_log(), {**ALL_OFF, "drop_non_product_codes": True, "non_product_codes": ["22633"]}
    )
    assert "22633" not in set(cleaned[schema.STOCK_CODE])
    assert "POST" in set(cleaned[schema.STOCK_CODE])


def test_custom_cancellation_prefix():
    tx = dirty_log()
    tx.loc[4, schema.INVOICE_ID] = "X5"
    _, report = clean_without_note(
        tx, {**ALL_OFF, "drop_cancellations": True, "cancellation_prefix": "X"}
    )
    assert report.to_dict()["clean.cancellations.removed"] == 1


def test_amount_only_log_judges_quantity_rule_by_amount():
    tx = dirty_log().drop(columns=[schema.QUANTITY, schema.UNIT_PRICE])
    cleaned, report = clean_without_note(tx, {**ALL_OFF, "drop_non_positive_quantity": True})
    assert (cleaned[schema.AMOUNT] > 0).all()
    assert report.to_frame().loc["non_positive_quantity", "rows_removed"] == 4


def test_net_returns_keep_negative_lines_flagged():
    tx = dirty_log()
    cleaned, _ = clean_without_note(tx, {"returns": "net"})
    returns = cleaned[cleaned[schema.IS_RETURN]]
    assert sorted(returns[schema.INVOICE_ID]) == ["6", "C5"]
    assert (returns[schema.AMOUNT] < 0).all()


def test_net_returns_still_drop_zero_quantities():
    cleaned, _ = clean_without_note(dirty_log(), {"returns": "net"})
    assert "7" not in set(cleaned[schema.INVOICE_ID])


def test_net_returns_flag_purchases_false():
    cleaned, report = clean_without_note(dirty_log(), {"returns": "net"})
    assert (~cleaned[schema.IS_RETURN]).sum() == 3
    assert report.returns_kept == 2


def test_input_is_not_modified():
    tx = dirty_log()
    before = tx.copy()
    clean_without_note(tx)
    pd.testing.assert_frame_equal(tx, before)


def test_to_dict_is_flat_and_named_by_rule():
    _, report = clean_without_note(dirty_log())
    flat = report.to_dict()
    assert flat["clean.missing_customer_id.removed"] == 1
    assert flat["clean.rows_in"] == 10
    assert flat["clean.rows_out"] == 3
    assert all(isinstance(v, int) for v in flat.values())


def test_empty_report_has_no_rows():
    assert CleaningReport(steps=[], customers_in=0, customers_out=0).rows_out == 0


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        (schema.UNIT_PRICE, 0.0, "non_positive_price"),
        (schema.QUANTITY, -1.0, "non_positive_quantity"),
        (schema.CUSTOMER_ID, None, "missing_customer_id"),
    ],
)
def test_empty_result_names_the_rule_that_emptied_it(column, value, rule):
    tx = dirty_log()
    tx[column] = value
    with pytest.raises(SegmentationError) as error:
        clean_without_note(tx)
    assert f"rule '{rule}'" in str(error.value)
    assert f"cleaning.drop_{rule}=false" in str(error.value)


def test_empty_input_is_rejected():
    with pytest.raises(SegmentationError, match="no rows"):
        clean_without_note(dirty_log().iloc[:0])


def test_misspelt_option_is_rejected():
    with pytest.raises(SegmentationError, match="'drop_duplicate'"):
        clean_transactions(pl.from_pandas(dirty_log()), {"drop_duplicate": False})


def test_unknown_returns_mode_is_rejected():
    with pytest.raises(SegmentationError, match=r"cleaning.returns.*'keep'.*drop, net"):
        clean_transactions(pl.from_pandas(dirty_log()), {"returns": "keep"})


def test_typed_options_are_taken_as_they_are():
    options = CleaningConfig(drop_duplicates=False)
    _, report = clean_without_note(dirty_log(), options)
    assert report.to_frame().loc["duplicates", "skipped"]


def test_purchases_of_a_net_log_are_the_lines_not_flagged_as_returns():
    cleaned, _ = clean_transactions(pl.from_pandas(dirty_log()), {"returns": "net"})
    purchases = cleaned.select(purchase_mask(cleaned)).to_series()
    assert purchases.to_list() == (~cleaned[schema.IS_RETURN]).to_list()


def test_every_line_of_a_dropped_returns_log_is_a_purchase():
    cleaned, _ = clean_transactions(pl.from_pandas(dirty_log()))
    assert cleaned.select(purchase_mask(cleaned)).to_series().all()


def test_cleaning_a_lazy_log_reads_it_once_and_gives_the_same_result():
    eager, eager_report = clean_without_note(dirty_log())
    lazy, lazy_report = clean_transactions(
        pl.from_pandas(dirty_log().drop(columns="note")).lazy(), {"returns": "drop"}
    )
    pd.testing.assert_frame_equal(lazy.to_pandas(), eager)
    assert lazy_report.to_dict() == eager_report.to_dict()


def same_hash(columns, seed=0) -> pl.Expr:
    """A stand-in for ``cleaning._hash_of`` under which every line collides."""
    return pl.col(columns[0]).hash(seed=seed) * 0


def test_lines_whose_hashes_collide_are_still_told_apart(monkeypatch):
    # Repeats are found by hashing lines; any hash shared by distinct lines must not make one
    # of them a repeat. With every line hashed alike, the result must not change.
    from src.data import cleaning

    log = pl.from_pandas(dirty_log().drop(columns="note"))
    expected, expected_report = clean_transactions(log)
    monkeypatch.setattr(cleaning, "_hash_of", same_hash)
    cleaned, report = clean_transactions(log)
    assert cleaned.equals(expected)
    assert report.to_dict() == expected_report.to_dict()
    assert report.to_frame().loc["duplicates", "rows_removed"] == 1


# -- returns=match (the default): a cancellation takes back the purchase it cancels ----------


def order_log(rows) -> pl.DataFrame:
    """(invoice, stock, quantity, day) lines of customer "c" at unit price 2."""
    frame = pl.DataFrame(
        rows,
        schema=[schema.INVOICE_ID, schema.STOCK_CODE, schema.QUANTITY, "day"],
        orient="row",
    )
    return frame.select(
        pl.lit("c").alias(schema.CUSTOMER_ID),
        schema.INVOICE_ID,
        schema.STOCK_CODE,
        pl.col(schema.QUANTITY).cast(pl.Float64),
        pl.lit(2.0).alias(schema.UNIT_PRICE),
        (pl.datetime(2024, 1, 1) + pl.duration(days=pl.col("day"))).alias(schema.INVOICE_DATE),
        (pl.col(schema.QUANTITY) * 2.0).alias(schema.AMOUNT),
    )


def test_matching_is_the_same_when_every_key_hash_collides(monkeypatch):
    # The lines returns=match looks at are picked by a hash of their customer x product: keys
    # that only share a hash with a cancelled one are looked at too, and must stay as they are.
    from src.data import cleaning

    log = order_log([("1", "A", 5, 0), ("C2", "A", -3, 1), ("3", "B", 4, 0), ("4", "B", 1, 2)])
    expected, expected_report = clean_transactions(log)
    monkeypatch.setattr(cleaning, "_hash_of", same_hash)
    cleaned, report = clean_transactions(log)
    assert cleaned.equals(expected)
    assert report.to_dict() == expected_report.to_dict()
    assert cleaned.filter(pl.col(schema.STOCK_CODE) == "B")[schema.QUANTITY].to_list() == [4, 1]


def test_default_cleaning_removes_a_fully_cancelled_order():
    log = order_log([("1", "A", 500, 0), ("C2", "A", -500, 0), ("3", "B", 1, 0)])
    cleaned, report = clean_transactions(log)
    assert cleaned[schema.INVOICE_ID].to_list() == ["3"]
    assert report.to_frame().loc["cancelled_purchases", "rows_removed"] == 1


def test_a_cancellation_takes_back_the_latest_purchases_first():
    log = order_log([("1", "A", 5, 0), ("2", "A", 3, 1), ("C3", "A", -4, 2), ("4", "B", 1, 0)])
    cleaned, report = clean_transactions(log)
    kept = dict(zip(cleaned[schema.INVOICE_ID], cleaned[schema.QUANTITY], strict=True))
    assert kept == {"1": 4.0, "4": 1.0}  # invoice 2 (3 units) gone, invoice 1 reduced by 1
    assert cleaned.filter(pl.col(schema.INVOICE_ID) == "1")[schema.AMOUNT].item() == 8.0
    assert report.purchases_reduced == 1


def test_purchases_after_the_cancellation_are_not_taken_back():
    log = order_log([("1", "A", 2, 0), ("C2", "A", -2, 1), ("3", "A", 7, 5)])
    cleaned, _ = clean_transactions(log)
    assert cleaned[schema.INVOICE_ID].to_list() == ["3"]


def test_a_cancellation_only_takes_back_its_own_product():
    log = order_log([("1", "A", 2, 0), ("1", "B", 2, 0), ("C2", "B", -2, 1)])
    cleaned, _ = clean_transactions(log)
    assert cleaned[schema.STOCK_CODE].to_list() == ["A"]


def test_a_cancellation_without_a_purchase_is_dropped_and_counted():
    cleaned, report = clean_transactions(order_log([("1", "A", 2, 3), ("C2", "B", -9, 1)]))
    assert cleaned[schema.INVOICE_ID].to_list() == ["1"]
    assert report.cancellations_unmatched == 1
    assert report.to_frame().loc["cancelled_purchases", "rows_removed"] == 0


def test_returns_drop_keeps_the_purchases_cancellations_cancel():
    log = order_log([("1", "A", 500, 0), ("C2", "A", -500, 0), ("3", "B", 1, 0)])
    cleaned, report = clean_transactions(log, {"returns": "drop"})
    assert cleaned[schema.INVOICE_ID].to_list() == ["1", "3"]
    assert "cancelled_purchases" not in report.to_frame().index

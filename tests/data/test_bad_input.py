"""Bad input ends in one clear ``SegmentationError`` (what, where, how to fix) or a visible
warning, never a traceback or a silently wrong table: broken files, bad date options,
implausible dates, impossible feature values, misleading formats, infinite numbers."""

from __future__ import annotations

import gzip

import pandas as pd
import polars as pl
import pytest

from src import columns as schema
from src.config.schema import CleaningConfig, FeaturesConfig, FeatureSet
from src.data.convert import parse_date_option
from src.data.features import select_features, summary_features
from src.data.load import dataset_config
from src.data.prepare import prepare_data
from src.data.readers import read_transactions
from src.errors import SegmentationError

COLUMNS = {
    "invoice_id": "InvoiceNo",
    "stock_code": "StockCode",
    "quantity": "Quantity",
    "invoice_date": "InvoiceDate",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
}
HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"


def lines(n_customers: int = 20, date: str = "2011-06-01 10:00") -> list[str]:
    return [f"5{i:05d},A{i % 3},2,{date},1.5,{12000 + i}\n" for i in range(n_customers)]


def csv_file(tmp_path, rows: list[str], name: str = "log.csv", header: str = HEADER):
    path = tmp_path / name
    path.write_text(header + "".join(rows))
    return path


def prepare(path, snapshot=None):
    cfg = dataset_config({"name": "t", "type": "transactions", "path": str(path)})
    cfg.columns = COLUMNS
    return prepare_data(cfg, CleaningConfig(), FeaturesConfig(FeatureSet.rfm), snapshot)


# -- broken compressed files -----------------------------------------------------------------


def test_truncated_gzip_names_the_file_and_says_truncated(tmp_path):
    whole = gzip.compress((HEADER + "".join(lines(2000))).encode())
    path = tmp_path / "log.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SegmentationError, match="truncated") as error:
        read_transactions(path, COLUMNS)
    assert str(path) in str(error.value)


def test_random_bytes_named_gz_say_not_gzip(tmp_path):
    path = tmp_path / "log.csv.gz"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SegmentationError, match="not gzip") as error:
        read_transactions(path, COLUMNS)
    assert str(path) in str(error.value)


# -- date options ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2024-13-45", "yesterday", "12/10/2011"])
def test_bad_date_option_names_the_option_and_the_format(value):
    with pytest.raises(SegmentationError, match="YYYY-MM-DD") as error:
        parse_date_option(value, "before")
    assert f"before={value!r}" in str(error.value)


@pytest.mark.parametrize("value", ["2011-12-10", "2011-12-10 08:00", "2011-12-10T08:00:00"])
def test_iso_date_options_parse(value):
    assert parse_date_option(value).date() == pd.Timestamp("2011-12-10").date()


def test_prepare_rejects_a_bad_snapshot_before_reading(tmp_path):
    with pytest.raises(SegmentationError, match="snapshot_date='yesterday'"):
        prepare(csv_file(tmp_path, lines()), snapshot="yesterday")


# -- implausible dates -----------------------------------------------------------------------


def test_one_line_dated_2099_does_not_move_the_default_snapshot(tmp_path):
    stray = "599999,A1,1,2099-01-01 09:00,1.5,12000\n"
    prepared = prepare(csv_file(tmp_path, [*lines(), stray]))
    assert prepared.snapshot == pd.Timestamp("2011-06-02")
    assert prepared.features[schema.RECENCY].max() < 10


def test_lines_after_the_plausible_end_are_counted_and_warned(tmp_path):
    stray = "599999,A1,1,2099-01-01 09:00,1.5,12000\n"
    prepared = prepare(csv_file(tmp_path, [*lines(), stray]))
    step = prepared.cleaning.to_frame().loc["after_snapshot"]
    assert step["rows_removed"] == 1
    assert any("after today" in w and "2099" in w for w in prepared.warnings)


def test_an_isolated_late_tail_does_not_move_the_default_snapshot(tmp_path):
    many = [f"5{i:05d},A1,2,2011-06-01 10:00,1.5,{12000 + i % 1500}\n" for i in range(1500)]
    stray = "599999,A1,1,2021-01-05 09:00,1.5,19999\n"
    prepared = prepare(csv_file(tmp_path, [*many, stray]))
    assert prepared.snapshot == pd.Timestamp("2011-06-02")
    assert any("isolated tail" in w for w in prepared.warnings)


def test_lines_after_an_explicit_snapshot_are_counted_and_warned(tmp_path):
    late = [f"6{i:05d},A1,2,2011-07-01 10:00,1.5,{12000 + i}\n" for i in range(3)]
    prepared = prepare(csv_file(tmp_path, [*lines(), *late]), snapshot="2011-06-15")
    assert prepared.cleaning.to_frame().loc["after_snapshot", "rows_removed"] == 3
    assert any("3 line(s)" in w for w in prepared.warnings)


def test_a_plausible_log_ignores_no_line(tmp_path):
    prepared = prepare(csv_file(tmp_path, lines()))
    assert prepared.cleaning.to_frame().loc["after_snapshot", "rows_removed"] == 0
    assert prepared.warnings == []


# -- impossible per-customer values ----------------------------------------------------------


def feature_table(monetary: list[float]) -> pd.DataFrame:
    n = len(monetary)
    return pd.DataFrame(
        {
            schema.RECENCY: [float(i) for i in range(n)],
            schema.FREQUENCY: [1.0] * n,
            schema.MONETARY: monetary,
        },
        index=pd.Index([f"c{i}" for i in range(n)], name=schema.CUSTOMER_ID),
    )


def test_feature_table_with_only_negative_monetary_is_refused():
    with pytest.raises(SegmentationError, match="zero or negative"):
        select_features(feature_table([-5.0, -10.0, -1.0]), "rfm", "features.csv")


def test_feature_table_with_negative_recency_is_refused():
    table = feature_table([5.0, 10.0])
    table.loc["c1", schema.RECENCY] = -516.0
    with pytest.raises(SegmentationError, match="impossible recency") as error:
        select_features(table, "rfm", "features.csv")
    assert "c1: -516" in str(error.value)


def test_summary_with_last_order_after_the_pull_is_refused():
    summary = pd.DataFrame(
        {
            schema.TOTAL_TRANSACTION: [3.0, 2.0],
            schema.TOTAL_MONEY_SPENT: [30.0, 20.0],
            schema.TRAN_WITH_DISC: [0.0, 0.0],
            schema.CREATED_AT: pd.to_datetime(["2023-01-01", "2023-01-01"]),
            schema.LAST_ORDER_DATE: pd.to_datetime(["2024-01-01", "2025-06-01"]),
            schema.DATA_PULLED_DATE: pd.to_datetime(["2024-02-01", "2024-02-01"]),
        },
        index=pd.Index(["a", "b"], name=schema.CUSTOMER_ID),
    )
    with pytest.raises(SegmentationError, match="after the date the data was pulled"):
        summary_features(summary, "rfm")


# -- misleading messages ---------------------------------------------------------------------


def test_empty_file_is_reported_as_empty(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("")
    with pytest.raises(SegmentationError, match="is empty"):
        read_transactions(path, COLUMNS)


def test_semicolon_separated_file_is_read(tmp_path):
    rows = [r.replace(",", ";") for r in lines(3)]
    path = csv_file(tmp_path, rows, header=HEADER.replace(",", ";"))
    tx = read_transactions(path, COLUMNS)
    assert tx[schema.CUSTOMER_ID].to_list() == ["12000", "12001", "12002"]


def test_missing_column_of_a_semicolon_file_names_the_separator(tmp_path):
    header = HEADER.replace(",", ";").replace("CustomerID", "Client")
    path = csv_file(tmp_path, [r.replace(",", ";") for r in lines(3)], header=header)
    with pytest.raises(SegmentationError, match="separated by ';'"):
        read_transactions(path, COLUMNS)


def test_mixed_date_styles_say_which_styles(tmp_path):
    rows = [*lines(3), "500009,A1,2,12/14/2010 13:10,1.5,12009\n"]
    with pytest.raises(SegmentationError) as error:
        read_transactions(csv_file(tmp_path, rows), COLUMNS)
    message = str(error.value)
    assert "12/14/2010 13:10" in message
    assert "style" in message


def test_a_mix_of_date_styles_in_the_first_lines_is_refused_too(tmp_path):
    """Wherever the mix starts, the column is refused alike (it was read when the sample
    happened to hold both styles), and the advice is not a date_format that cannot read both."""
    rows = [*lines(2), *lines(2, date="6/2/2011 10:00"), *lines(3)]
    with pytest.raises(SegmentationError) as error:
        read_transactions(csv_file(tmp_path, rows), COLUMNS)
    message = str(error.value)
    assert "mixes date styles" in message and "6/2/2011 10:00" in message
    assert "e.g. dataset.date_format" not in message


def test_xlsx_sheet_option_picks_the_sheet(tmp_path):
    path = tmp_path / "log.xlsx"
    frame = pd.DataFrame(
        [r.strip().split(",") for r in lines(3)], columns=HEADER.strip().split(",")
    )
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["exported"]}).to_excel(writer, sheet_name="About", index=False)
        frame.to_excel(writer, sheet_name="Orders", index=False)
    tx = read_transactions(path, COLUMNS, sheet="Orders")
    assert tx.height == 3


# -- infinite numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf"])
def test_infinite_prices_are_rejected_at_load_time_with_rows(tmp_path, value):
    rows = lines(3)
    rows[1] = rows[1].replace(",1.5,", f",{value},")
    with pytest.raises(SegmentationError, match="not finite numbers") as error:
        read_transactions(csv_file(tmp_path, rows), COLUMNS)
    message = str(error.value)
    assert "'UnitPrice'" in message
    assert value in message
    assert "rows 2" in message


def test_infinite_prices_in_parquet_are_rejected(tmp_path):
    frame = pl.DataFrame(
        {
            "InvoiceNo": ["1", "2"],
            "StockCode": ["A", "B"],
            "Quantity": [1.0, 2.0],
            "InvoiceDate": ["2011-01-01 10:00", "2011-01-02 10:00"],
            "UnitPrice": [1.0, float("inf")],
            "CustomerID": ["1", "2"],
        }
    )
    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    with pytest.raises(SegmentationError, match="not finite numbers"):
        read_transactions(path, COLUMNS)

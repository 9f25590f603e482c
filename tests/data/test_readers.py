from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from src import columns as schema
from src.data.readers import read_customer_summary, read_feature_table, read_transactions
from src.errors import SegmentationError
from tests.data.uci_lines import (
    DATE_STYLES,
    SUMMARY_COLUMNS,
    UCI_COLUMNS,
    summary_frame,
    uci_frame,
    write,
)

EXPECTED_DATES = pd.to_datetime(["2010-12-01 08:26", "2010-12-01 08:28", "2011-01-13 17:05"])


@pytest.fixture(params=["log.csv", "log.csv.gz", "log.xlsx", "log.parquet"])
def file_name(request) -> str:
    return request.param


@pytest.mark.parametrize("style", sorted(DATE_STYLES))
def test_uci_log_dates_parse_in_every_format(tmp_path, file_name, style):
    path = write(uci_frame(DATE_STYLES[style]), tmp_path / file_name)
    tx = read_transactions(path, UCI_COLUMNS)
    assert tx[schema.INVOICE_DATE].to_list() == list(EXPECTED_DATES.to_pydatetime())


def test_uci_log_ids_lose_float_suffix_and_blanks_become_missing(tmp_path, file_name):
    tx = read_transactions(write(uci_frame(DATE_STYLES["iso"]), tmp_path / file_name), UCI_COLUMNS)
    assert tx[schema.CUSTOMER_ID].to_list() == ["17850", None, "14527"]


def test_uci_log_has_canonical_columns_and_dtypes(tmp_path, file_name):
    tx = read_transactions(write(uci_frame(DATE_STYLES["iso"]), tmp_path / file_name), UCI_COLUMNS)
    assert list(tx.columns) == [c for c in schema.TRANSACTION_COLUMNS if c in tx.columns]
    assert set(tx.columns) == {*UCI_COLUMNS, schema.AMOUNT}
    for column in (schema.CUSTOMER_ID, schema.INVOICE_ID, schema.STOCK_CODE, schema.COUNTRY):
        assert tx[column].dtype == pl.String, column
    for column in (schema.QUANTITY, schema.UNIT_PRICE, schema.AMOUNT):
        assert tx[column].dtype == pl.Float64, column
    assert tx[schema.INVOICE_DATE].dtype == pl.Datetime("us")


def test_amount_is_quantity_times_price(tmp_path, file_name):
    tx = read_transactions(write(uci_frame(DATE_STYLES["iso"]), tmp_path / file_name), UCI_COLUMNS)
    expected = tx[schema.QUANTITY] * tx[schema.UNIT_PRICE]
    np.testing.assert_allclose(tx[schema.AMOUNT].to_numpy(), expected.to_numpy())


def test_typed_parquet_with_float_ids_and_datetimes(tmp_path):
    frame = pd.DataFrame(
        {
            "CustomerID": [17850.0, np.nan, 14527.0],
            "InvoiceNo": [536365, 536366, 536367],
            "InvoiceDate": EXPECTED_DATES,
            "Quantity": [6, 6, 1],
            "UnitPrice": [2.55, 1.85, 27.5],
        }
    )
    columns = {k: v for k, v in UCI_COLUMNS.items() if v in frame.columns}
    tx = read_transactions(write(frame, tmp_path / "typed.parquet"), columns)
    assert tx[schema.CUSTOMER_ID].to_list() == ["17850", None, "14527"]
    assert tx[schema.INVOICE_ID].to_list() == ["536365", "536366", "536367"]
    assert tx[schema.QUANTITY].dtype == pl.Float64


def generic_log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client": ["a", "a", "b"],
            "day": ["20240105", "20240107", "20240106"],
            "total": ["10.5", "4", "7.25"],
            "promo": ["0", "1.5", ""],
            "joined": ["20231201", "20231201", "20240101"],
        }
    )


GENERIC_COLUMNS = {
    "customer_id": "client",
    "invoice_date": "day",
    "amount": "total",
    "discount": "promo",
    "signup_date": "joined",
}


def test_generic_log_with_strftime_dates(tmp_path):
    path = write(generic_log(), tmp_path / "orders.csv")
    tx = read_transactions(path, GENERIC_COLUMNS, date_format="%Y%m%d")
    expected = pd.to_datetime(["2024-01-05", "2024-01-07", "2024-01-06"])
    assert tx[schema.INVOICE_DATE].to_list() == list(expected.to_pydatetime())
    signup = pd.to_datetime(["2023-12-01"] * 2 + ["2024-01-01"])
    assert tx[schema.SIGNUP_DATE].to_list() == list(signup.to_pydatetime())


def test_generic_log_without_invoices_makes_every_row_an_order(tmp_path):
    path = write(generic_log(), tmp_path / "orders.csv")
    tx = read_transactions(path, GENERIC_COLUMNS, date_format="%Y%m%d")
    assert tx[schema.INVOICE_ID].dtype == pl.String
    assert tx[schema.INVOICE_ID].is_unique().all()


def test_generic_log_keeps_given_amount_without_inventing_quantities(tmp_path):
    path = write(generic_log(), tmp_path / "orders.csv")
    tx = read_transactions(path, GENERIC_COLUMNS, date_format="%Y%m%d")
    assert tx[schema.AMOUNT].to_list() == [10.5, 4.0, 7.25]
    assert schema.QUANTITY not in tx.columns
    assert schema.UNIT_PRICE not in tx.columns


def test_generic_log_discount_is_numeric_with_missing_values(tmp_path):
    path = write(generic_log(), tmp_path / "orders.csv")
    tx = read_transactions(path, GENERIC_COLUMNS, date_format="%Y%m%d")
    assert tx[schema.DISCOUNT].to_list() == [0.0, 1.5, None]


def test_log_in_canonical_names_needs_no_mapping(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["7"],
            "invoice_id": ["1"],
            "invoice_date": ["2024-01-01"],
            "quantity": [2],
            "unit_price": [3.0],
        }
    )
    tx = read_transactions(write(frame, tmp_path / "log.csv"), None)
    assert tx[schema.AMOUNT].to_list() == [6.0]


def test_summary_is_indexed_by_customer(tmp_path):
    customers = read_customer_summary(write(summary_frame(), tmp_path / "s.csv"), SUMMARY_COLUMNS)
    assert customers.index.name == schema.CUSTOMER_ID
    assert customers.index.tolist() == ["u1", "u2"]
    assert list(customers.columns) == list(schema.SUMMARY_COLUMNS[1:])


def test_summary_with_repeated_customers_is_rejected(tmp_path):
    frame = pd.concat([summary_frame(), summary_frame().iloc[:1]])
    with pytest.raises(SegmentationError, match="repeated customer id.*'u1'"):
        read_customer_summary(write(frame, tmp_path / "s.csv"), SUMMARY_COLUMNS)


def feature_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2], "R": [5, 30], "F": [2, 1], "M": [10.0, 99.5]})


FEATURE_COLUMNS = {
    "customer_id": "id",
    "recency_days": "R",
    "frequency": "F",
    "monetary": "M",
}


def test_feature_table_maps_features(tmp_path):
    table = read_feature_table(write(feature_frame(), tmp_path / "f.parquet"), FEATURE_COLUMNS)
    assert list(table.columns) == list(schema.RFM_FEATURES)
    assert table.index.tolist() == ["1", "2"]
    assert (table.dtypes == "float64").all()


def test_feature_table_rejects_unknown_feature_names(tmp_path):
    path = write(feature_frame(), tmp_path / "f.csv")
    with pytest.raises(SegmentationError, match="unknown feature.*recency"):
        read_feature_table(path, {"customer_id": "id", "recency": "R"})


# -- errors ----------------------------------------------------------------------------------


def test_misspelt_column_suggests_close_match(tmp_path):
    path = write(uci_frame(DATE_STYLES["iso"]), tmp_path / "log.csv")
    with pytest.raises(SegmentationError) as error:
        read_transactions(path, UCI_COLUMNS | {"customer_id": "CustomerId"})
    message = str(error.value)
    assert "'CustomerId' (for customer_id)" in message
    assert "did you mean 'CustomerID'" in message
    assert "Columns found: InvoiceNo, StockCode" in message


def test_missing_columns_are_all_named(tmp_path):
    path = write(uci_frame(DATE_STYLES["iso"]), tmp_path / "log.csv")
    with pytest.raises(SegmentationError) as error:
        read_transactions(path, UCI_COLUMNS | {"quantity": "Qty", "unit_price": "Price"})
    assert "'Qty' (for quantity)" in str(error.value)
    assert "'Price' (for unit_price)" in str(error.value)


def test_unknown_canonical_key_is_rejected(tmp_path):
    path = write(uci_frame(DATE_STYLES["iso"]), tmp_path / "log.csv")
    with pytest.raises(SegmentationError, match="'customerid'.*did you mean 'customer_id'"):
        read_transactions(path, {"customerid": "CustomerID"})


def test_log_without_amount_or_prices_is_rejected(tmp_path):
    path = write(uci_frame(DATE_STYLES["iso"]), tmp_path / "log.csv")
    columns = {"customer_id": "CustomerID", "invoice_date": "InvoiceDate", "quantity": "Quantity"}
    with pytest.raises(SegmentationError, match="unit_price.*or amount"):
        read_transactions(path, columns)


@pytest.mark.parametrize("date_format", [None, "%Y-%m-%d %H:%M:%S"])
def test_unparseable_dates_show_examples(tmp_path, date_format):
    frame = uci_frame(["2010-12-01 08:26:00", "yesterday", "2010-13-45 10:00:00"])
    path = write(frame, tmp_path / "log.csv")
    with pytest.raises(SegmentationError) as error:
        read_transactions(path, UCI_COLUMNS, date_format=date_format)
    message = str(error.value)
    assert "'InvoiceDate' (invoice_date)" in message
    assert "'yesterday'" in message
    assert "'2010-13-45 10:00:00'" in message
    assert "dataset.date_format=" in message


def test_wrong_explicit_date_format_is_reported(tmp_path):
    path = write(uci_frame(DATE_STYLES["iso"]), tmp_path / "log.csv")
    with pytest.raises(SegmentationError, match="not dates in the format '%Y%m%d'"):
        read_transactions(path, UCI_COLUMNS, date_format="%Y%m%d")


@pytest.mark.parametrize(("column", "bad"), [("Quantity", "six"), ("UnitPrice", "£2.55")])
def test_non_numeric_values_show_examples(tmp_path, file_name, column, bad):
    frame = uci_frame(DATE_STYLES["iso"])
    frame.loc[1, column] = bad
    path = write(frame, tmp_path / file_name)
    with pytest.raises(SegmentationError) as error:
        read_transactions(path, UCI_COLUMNS)
    message = str(error.value)
    assert f"'{column}'" in message
    assert "not finite numbers" in message
    assert repr(bad) in message


def test_unknown_suffix_asks_for_format(tmp_path):
    path = tmp_path / "log.dat"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(SegmentationError, match="dataset.format=csv"):
        read_transactions(path, UCI_COLUMNS)


def test_explicit_format_overrides_suffix(tmp_path):
    path = tmp_path / "log.dat"
    uci_frame(DATE_STYLES["iso"]).to_csv(path, index=False)
    assert len(read_transactions(path, UCI_COLUMNS, fmt="csv")) == 3


def test_iso_dates_with_and_without_times_mix(tmp_path):
    frame = summary_frame()
    frame.loc[0, "last_order_date"] = "2024-03-01 15:30:00"
    customers = read_customer_summary(write(frame, tmp_path / "s.csv"), SUMMARY_COLUMNS)
    assert customers[schema.LAST_ORDER_DATE].tolist() == [
        pd.Timestamp("2024-03-01 15:30"),
        pd.Timestamp("2024-01-15"),
    ]


def test_malformed_csv_is_reported(tmp_path):
    path = tmp_path / "log.csv"
    uci_frame(DATE_STYLES["iso"]).to_csv(path, index=False)
    with path.open("a") as handle:
        handle.write("1,2,3,4,5,6,7,8,9,10\n")
    with pytest.raises(SegmentationError, match="cannot parse .*log.csv as CSV"):
        read_transactions(path, UCI_COLUMNS)


def test_a_scan_counts_its_lines_once(tmp_path):
    from src.data.readers import scan_transactions, source

    path = tmp_path / "log.parquet"
    pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "invoice_id": ["1", "2", "3"],
            "invoice_date": [pd.Timestamp("2024-01-02")] * 3,
            "quantity": [1, 2, 3],
            "unit_price": [1.0, 2.0, 3.0],
        }
    ).write_parquet(path)
    scan = scan_transactions(source(path), None)
    assert scan.may_have(3) and not scan.may_have(4)
    path.unlink()  # a second count would have to read the file again
    assert scan.lines() == 3

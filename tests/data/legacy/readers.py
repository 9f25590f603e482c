"""Readers for the three kinds of input: transaction logs, per-customer summaries and feature
tables, each returned in the canonical columns and dtypes of ``src.columns``.

Transaction logs need ``customer_id``, ``invoice_date`` and either ``amount`` or
``quantity`` + ``unit_price`` (then ``amount = quantity * unit_price``). When a log gives a
ready ``amount``, ``quantity`` and ``unit_price`` are kept only if mapped too; they are never
invented, and the cleaning rules that need them fall back to the sign of ``amount`` or are
skipped. Without ``invoice_id`` every row is one order and gets its row number as invoice id.
In a log, ids are categoricals of ``str`` labels with sorted categories (``src.data.ids``);
the index of per-customer tables is ``str``.

CSV files (plain or compressed) are parsed by pyarrow with only the used columns and their
types declared up front, several times faster than ``pd.read_csv`` with its defaults (see
``benchmarks/README.md``); Excel and Parquet go through pandas. When a number or date does not
parse that way (month-first dates, bad values), the columns are read as text and converted by
pandas, whose errors name the column and show bad examples (``src.data.convert``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from src import columns as schema
from src.errors import SegmentationError

from . import ids
from .convert import (
    NULL_STRINGS,
    as_mapping,
    check_columns_exist,
    clean_id_labels,
    column_mapping,
    examples,
    id_codes,
    listing,
    normalise_ids,
    to_datetime,
    to_float,
    to_text,
)

FORMATS = ("csv", "excel", "parquet")

_ID_COLUMNS = (schema.CUSTOMER_ID, schema.INVOICE_ID)
_NUMERIC_COLUMNS = (schema.QUANTITY, schema.UNIT_PRICE, schema.AMOUNT, schema.DISCOUNT)
_DATE_COLUMNS = (schema.INVOICE_DATE, schema.SIGNUP_DATE)
_SUMMARY_NUMERIC = (schema.TOTAL_TRANSACTION, schema.TOTAL_MONEY_SPENT, schema.TRAN_WITH_DISC)
_SUMMARY_REQUIRED = (
    schema.USER_ID,
    schema.TOTAL_TRANSACTION,
    schema.TOTAL_MONEY_SPENT,
    schema.LAST_ORDER_DATE,
    schema.DATA_PULLED_DATE,
)


def read_transactions(
    path: str | Path,
    columns: Mapping[str, str] | None,
    date_format: str | None = None,
    fmt: str | None = None,
) -> pd.DataFrame:
    """Read an invoice-line log into the canonical columns and dtypes of ``src.columns``."""
    path = Path(path)
    fmt = infer_format(path, fmt)
    found = column_names(path, fmt)
    mapping = column_mapping(columns, found, schema.TRANSACTION_COLUMNS, "transaction", path)
    _check_transaction_mapping(mapping, path)
    check_columns_exist(mapping, found, path)
    if fmt == "csv":
        raw = _read_csv(path, mapping, date_format, typed_values=True)
        if raw is None:
            raw = _read_csv(path, mapping, date_format, typed_values=False)
        return _canonical_transactions(raw, mapping, date_format, path, ids_clean=True)
    raw = _read_raw(path, fmt, sorted(set(mapping.values())), string_columns=mapping.values())
    return _canonical_transactions(raw, mapping, date_format, path)


def _check_transaction_mapping(mapping: Mapping[str, str], path: Path) -> None:
    missing = [c for c in (schema.CUSTOMER_ID, schema.INVOICE_DATE) if c not in mapping]
    has_amount = schema.AMOUNT in mapping
    has_lines = schema.QUANTITY in mapping and schema.UNIT_PRICE in mapping
    if not has_amount and not has_lines:
        missing += [c for c in (schema.QUANTITY, schema.UNIT_PRICE) if c not in mapping]
        missing.append(f"or {schema.AMOUNT}")
    if missing:
        raise SegmentationError(
            f"the transaction log {path} has no column mapped to {', '.join(missing)}. "
            "A log needs customer_id, invoice_date and either quantity + unit_price or a "
            "ready amount column; map them under dataset.columns, e.g. "
            "dataset.columns.customer_id=CustomerID."
        )


def _arrow_type(canonical: str, typed_values: bool) -> pa.DataType:
    if canonical in _ID_COLUMNS:
        # Few distinct ids: parsing into a dictionary is faster, and the id rule then only
        # touches the distinct values.
        return pa.dictionary(pa.int32(), pa.string())
    if typed_values and canonical in _NUMERIC_COLUMNS:
        return pa.float64()
    if typed_values and canonical in _DATE_COLUMNS:
        return pa.timestamp("us")
    return pa.string()


def _read_csv(
    path: Path, mapping: Mapping[str, str], date_format: str | None, typed_values: bool
) -> pd.DataFrame | None:
    """Parse the used columns with pyarrow; ``None`` when a typed value does not convert.

    ``typed_values=False`` reads numbers and dates as text for the pandas conversions,
    which accept more date styles and report bad values.
    """
    types: dict[str, pa.DataType] = {}
    for canonical, source in mapping.items():
        wanted = _arrow_type(canonical, typed_values)
        if types.setdefault(source, wanted) != wanted:
            types[source] = pa.string()  # one source column feeding two roles: decide later
    convert = pacsv.ConvertOptions(
        include_columns=list(types),
        column_types=types,
        null_values=NULL_STRINGS,
        strings_can_be_null=True,
        timestamp_parsers=[date_format] if date_format else None,
    )
    try:
        with _open_csv(path) as source:
            table = pacsv.read_csv(source, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if typed_values:
            return None
        raise SegmentationError(
            f"cannot parse {path} as CSV ({exc}). Check that it is a comma-separated UTF-8 "
            "file with one header row, or set dataset.format to its real format."
        ) from exc
    id_sources = {mapping[c] for c in _ID_COLUMNS if c in mapping}
    ids_by_source = {source: _categorical_ids(table.column(source)) for source in id_sources}
    frame = table.drop_columns(list(id_sources)).to_pandas(split_blocks=True)
    for source, values in ids_by_source.items():
        frame[source] = values
    return frame


def _open_csv(path: Path):
    """A binary stream of the CSV text; gzip is inflated by ISA-L (igzip) when installed.

    Inflating is the slowest step of reading a .csv.gz (zlib: 0.15 s of the 0.34 s for the
    UCI file); igzip does it about 1.7x faster while pyarrow parses in parallel.
    """
    if path.suffix == ".gz":
        try:
            from isal import igzip
        except ImportError:
            pass
        else:
            return igzip.open(path, "rb")
    return pa.input_stream(str(path), compression="detect")


def _categorical_ids(column: pa.ChunkedArray) -> pd.Series:
    """Parsed ids as a categorical (see ``src.data.ids``), the id rule applied per label.

    Each parsed block has its own small dictionary; once they are unified, the id rule and
    the sort run on the distinct labels only and the lines are re-coded with one lookup.
    """
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    column = column.unify_dictionaries()
    if not column.num_chunks:
        return ids.from_codes(np.array([], dtype=np.int32), [])
    labels = clean_id_labels(column.chunk(0).dictionary)
    indices = pa.chunked_array([chunk.indices for chunk in column.chunks], type=pa.int32())
    return ids.from_positions(labels, indices.fill_null(-1).to_numpy())


def _canonical_transactions(
    raw: pd.DataFrame,
    mapping: Mapping[str, str],
    date_format: str | None,
    path: Path,
    ids_clean: bool = False,
) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    for canonical in schema.TRANSACTION_COLUMNS:
        if canonical not in mapping:
            continue
        source = mapping[canonical]
        values = raw[source]
        where = f"column {source!r} ({canonical}) of {path}"
        if canonical in _ID_COLUMNS:
            if ids_clean:
                out[canonical] = values
            else:
                codes, labels = id_codes(values)
                out[canonical] = ids.from_positions(labels, codes).set_axis(values.index)
        elif canonical in _NUMERIC_COLUMNS:
            out[canonical] = to_float(values, where)
        elif canonical in _DATE_COLUMNS:
            out[canonical] = to_datetime(values, date_format, where)
        else:
            out[canonical] = to_text(values)
    n_rows = len(raw)
    if schema.INVOICE_ID not in out:
        out[schema.INVOICE_ID] = ids.as_ids(
            pd.Series(np.arange(n_rows), index=raw.index).astype("str")
        )
    if schema.AMOUNT not in out:
        out[schema.AMOUNT] = out[schema.QUANTITY] * out[schema.UNIT_PRICE]
    ordered = [c for c in schema.TRANSACTION_COLUMNS if c in out]
    return pd.DataFrame({c: out[c] for c in ordered}, copy=False).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Per-customer tables
# --------------------------------------------------------------------------------------------


def read_customer_summary(
    path: str | Path,
    columns: Mapping[str, str] | None,
    date_format: str | None = None,
    fmt: str | None = None,
) -> pd.DataFrame:
    """Read the per-customer summary schema; index ``customer_id``, the summary columns."""
    path = Path(path)
    fmt = infer_format(path, fmt)
    found = column_names(path, fmt)
    mapping = column_mapping(columns, found, schema.SUMMARY_COLUMNS, "summary", path)
    missing = [c for c in _SUMMARY_REQUIRED if c not in mapping]
    if missing:
        raise SegmentationError(
            f"the customer summary {path} has no column mapped to {', '.join(missing)}. "
            f"A summary table needs {', '.join(_SUMMARY_REQUIRED)} (tran_with_disc and "
            "created_at are needed for LRFMC only); map them under dataset.columns, e.g. "
            "dataset.columns.user_id=customer."
        )
    check_columns_exist(mapping, found, path)
    raw = _read_raw(path, fmt, sorted(set(mapping.values())), string_columns=[mapping["user_id"]])
    return canonical_summary(raw, mapping, date_format, path)


def canonical_summary(
    raw: pd.DataFrame,
    mapping: Mapping[str, str],
    date_format: str | None,
    path: Path | str,
) -> pd.DataFrame:
    mapping = mapping or {c: c for c in schema.SUMMARY_COLUMNS if c in raw.columns}
    out: dict[str, pd.Series] = {}
    for canonical in schema.SUMMARY_COLUMNS[1:]:
        if canonical not in mapping:
            continue
        source = mapping[canonical]
        where = f"column {source!r} ({canonical}) of {path}"
        if canonical in _SUMMARY_NUMERIC:
            out[canonical] = to_float(raw[source], where)
        else:
            out[canonical] = to_datetime(raw[source], date_format, where)
    ids = normalise_ids(raw[mapping[schema.USER_ID]])
    frame = pd.DataFrame(out)
    frame.index = pd.Index(ids, name=schema.CUSTOMER_ID)
    return _check_unique_ids(frame, path)


def read_feature_table(
    path: str | Path, columns: Mapping[str, str] | None, fmt: str | None = None
) -> pd.DataFrame:
    """Read precomputed features; index ``customer_id``, one float64 column per feature.

    ``columns`` maps feature names (and ``customer_id``) to source columns; without feature
    entries every column named like a known feature is taken.
    """
    path = Path(path)
    fmt = infer_format(path, fmt)
    found = column_names(path, fmt)
    mapping = {k: v for k, v in as_mapping(columns).items() if v is not None}
    unknown = [k for k in mapping if k not in (schema.CUSTOMER_ID, *schema.LRFMC_FEATURES)]
    if unknown:
        raise SegmentationError(
            f"dataset.columns of the feature table {path} names unknown feature(s) "
            f"{', '.join(unknown)}. Feature names are {', '.join(schema.LRFMC_FEATURES)} "
            "(plus customer_id for the id column); rename the keys under dataset.columns."
        )
    if schema.CUSTOMER_ID not in mapping:
        id_column = next((c for c in (schema.CUSTOMER_ID, schema.USER_ID) if c in found), None)
        mapping[schema.CUSTOMER_ID] = id_column or schema.CUSTOMER_ID
    features = [f for f in schema.LRFMC_FEATURES if f in mapping]
    if not features:
        features = [f for f in schema.LRFMC_FEATURES if f in found]
        mapping.update({f: f for f in features})
    if not features:
        raise SegmentationError(
            f"the feature table {path} has no feature columns: none of its columns "
            f"({listing(found)}) is named like a feature ({', '.join(schema.LRFMC_FEATURES)}) "
            "and dataset.columns maps none. Map them, e.g. dataset.columns.recency_days=R."
        )
    check_columns_exist(mapping, found, path)
    id_source = mapping[schema.CUSTOMER_ID]
    raw = _read_raw(path, fmt, sorted(set(mapping.values())), string_columns=[id_source])
    frame = pd.DataFrame(
        {f: to_float(raw[mapping[f]], f"column {mapping[f]!r} ({f}) of {path}") for f in features}
    )
    frame.index = pd.Index(normalise_ids(raw[id_source]), name=schema.CUSTOMER_ID)
    return _check_unique_ids(frame, path)


def _check_unique_ids(frame: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    if frame.index.hasnans:
        raise SegmentationError(
            f"{int(frame.index.isna().sum())} row(s) of {path} have no customer id. "
            "A per-customer table needs an id on every row; fill or drop those rows."
        )
    duplicated = frame.index[frame.index.duplicated()]
    if len(duplicated):
        raise SegmentationError(
            f"{path} has {len(duplicated)} repeated customer id(s), e.g. "
            f"{examples(duplicated)}. A per-customer table needs one row per customer; "
            "aggregate the rows first or load the file as dataset.type=transactions."
        )
    return frame


def infer_format(path: Path, fmt: str | None = None) -> str:
    """``csv``, ``excel`` or ``parquet``: as given, else from the file suffix."""
    if fmt:
        if fmt not in FORMATS:
            raise SegmentationError(
                f"dataset.format={fmt!r} is not supported (file {path}). Use one of "
                f"{', '.join(FORMATS)}, or leave it null to infer it from the file suffix."
            )
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst", ".lz4"):
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in (".csv", ".txt", ".tsv"):
        return "csv"
    if last in (".xlsx", ".xlsm", ".xls"):
        return "excel"
    if last in (".parquet", ".pq"):
        return "parquet"
    raise SegmentationError(
        f"cannot tell the format of {path} from its suffix. Name it .csv, .csv.gz, .xlsx or "
        ".parquet, or set it explicitly with dataset.format=csv (or excel, parquet)."
    )


def column_names(path: Path, fmt: str) -> list[str]:
    """Header of a file without reading its rows."""
    if fmt == "csv":
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(1 << 16).decode("utf-8", errors="replace").lstrip("\ufeff")
        return next(csv.reader(io.StringIO(head)), [])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return [str(c) for c in pd.read_excel(path, nrows=0).columns]


def _read_raw(
    path: Path, fmt: str, usecols: list[str], string_columns: Iterable[str] = ()
) -> pd.DataFrame:
    """Read the used columns as stored (ids as text so "00123" keeps its zeros)."""
    dtype = dict.fromkeys(string_columns, "str")
    try:
        if fmt == "csv":
            return pd.read_csv(path, usecols=usecols, dtype=dtype, keep_default_na=False)
        if fmt == "excel":
            return pd.read_excel(path, usecols=usecols, dtype=dtype)
        return pd.read_parquet(path, columns=usecols)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise SegmentationError(
            f"cannot read {path} as {fmt} ({exc}). Check that the file is a valid {fmt} file "
            "(UTF-8 text for CSV) or set dataset.format to its real format."
        ) from exc

"""Read datasets described by a Hydra ``dataset`` node into canonical column names.

Every loader renames the source columns to the names in ``src.columns`` and fixes their dtypes
once, so cleaning, features and models never see a file's own spelling:

- ids (``customer_id``, ``invoice_id``) of transaction logs are categoricals of ``str`` labels
  with sorted categories (``src.data.ids``); the index of per-customer tables is ``str``.
  Float-looking ids such as ``"17850.0"`` become ``"17850"`` and empty ids become missing;
- dates are ``datetime64``; ``date_format`` (a strftime pattern such as ``"%Y%m%d"``) applies
  to every date column of the file, ``null`` accepts ISO dates or month-first ones like
  ``"12/1/2010 8:26"``;
- quantities, prices, amounts, discounts and summary totals are ``float64``.

Transaction logs need ``customer_id``, ``invoice_date`` and either ``amount`` or
``quantity`` + ``unit_price`` (then ``amount = quantity * unit_price``). When a log gives a
ready ``amount``, ``quantity`` and ``unit_price`` are kept only if mapped too; they are never
invented, and the cleaning rules that need them fall back to the sign of ``amount`` or are
skipped. Without ``invoice_id`` every row is one order and gets its row number as invoice id.

CSV files (plain or compressed) are parsed by pyarrow with only the used columns and their
types declared up front, several times faster than ``pd.read_csv`` with its defaults (see
``benchmarks/README.md``); Excel and Parquet go through pandas. When a number or date does not
parse that way (month-first dates, bad values), the columns are read as text and converted by
pandas, whose errors name the column and show bad examples.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from src import columns as schema
from src.data import ids
from src.data.dataset import Dataset
from src.errors import SegmentationError

DATA_DIR_ENV = "SEGMENTATION_DATA_DIR"
DATASET_TYPES = ("synthetic", "transactions", "summary", "features")
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
_NULL_STRINGS = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "<NA>"]
_N_EXAMPLES = 5


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def load_dataset(cfg: Mapping, base_dir: str | Path | None = None) -> Dataset:
    """Load the dataset a Hydra ``dataset`` node describes (see the module docstring)."""
    kind = _plain_value(cfg.get("type"))
    name = str(cfg.get("name") or kind)
    if kind == "synthetic":
        return _load_synthetic(cfg, name)
    if kind not in DATASET_TYPES:
        raise SegmentationError(
            f"dataset.type={kind!r} (dataset {name!r}) is not a supported dataset type. "
            f"Use one of {', '.join(DATASET_TYPES)}, e.g. dataset.type=transactions for an "
            "invoice-line log."
        )
    path = resolve_path(cfg.get("path"), base_dir, url=cfg.get("url"), name=name)
    columns = _as_mapping(cfg.get("columns"))
    fmt = cfg.get("format")
    date_format = cfg.get("date_format")
    if kind == "transactions":
        tx = read_transactions(path, columns, date_format=date_format, fmt=fmt)
        return Dataset(name=name, kind="transactions", source=str(path), transactions=tx)
    if kind == "summary":
        customers = read_customer_summary(path, columns, date_format=date_format, fmt=fmt)
        return Dataset(
            name=name,
            kind="summary",
            source=str(path),
            customers=customers,
            snapshot_date=customers[schema.DATA_PULLED_DATE].max(),
        )
    customers = read_feature_table(path, columns, fmt=fmt)
    return Dataset(name=name, kind="features", source=str(path), customers=customers)


def _load_synthetic(cfg: Mapping, name: str) -> Dataset:
    from src.data.synthetic import generate_transactions, to_customer_summary

    data = generate_transactions(
        n_customers=int(cfg.get("n_customers", 5000)),
        seed=int(cfg.get("seed", 0)),
        start=str(cfg.get("start", "2023-01-01")),
        end=str(cfg.get("end", "2024-12-31")),
        dirty=bool(cfg.get("dirty", False)),
        segment_shares=_shares(cfg.get("segment_shares")),
    )
    output = _plain_value(cfg.get("output", "transactions"))
    source = f"synthetic(n_customers={cfg.get('n_customers')}, seed={cfg.get('seed')})"
    if output == "transactions":
        return Dataset(
            name=name,
            kind="transactions",
            source=source,
            transactions=data.transactions,
            ground_truth=data.labels,
            snapshot_date=data.snapshot_date,
        )
    if output == "summary":
        summary = to_customer_summary(data.transactions, data.snapshot_date)
        if summary.index.name in (schema.USER_ID, schema.CUSTOMER_ID):
            summary = summary.rename_axis(schema.USER_ID).reset_index()
        customers = _canonical_summary(summary, {}, None, source)
        return Dataset(
            name=name,
            kind="summary",
            source=source,
            customers=customers,
            ground_truth=data.labels,
            snapshot_date=customers[schema.DATA_PULLED_DATE].max(),
        )
    raise SegmentationError(
        f"dataset.output={output!r} (synthetic dataset {name!r}) is not supported. "
        "Use dataset.output=transactions for an invoice-line log or dataset.output=summary "
        "for the per-customer summary table."
    )


def _shares(given) -> dict[str, float] | None:
    if given is None or (isinstance(given, Mapping) and not given):
        return None
    if not isinstance(given, Mapping):
        raise SegmentationError(
            f"dataset.segment_shares must map segment names to weights, got {given!r}. "
            "Write e.g. dataset.segment_shares='{champions: 1, lost: 3}'."
        )
    return {str(name): _plain_value(weight) for name, weight in given.items()}


def resolve_path(
    path: str | Path | None,
    base_dir: str | Path | None = None,
    url: str | None = None,
    name: str = "dataset",
) -> Path:
    """Resolve a relative path against ``base_dir``; download ``url`` only if the file is missing."""
    if path is None or str(path) in ("", "???"):
        raise SegmentationError(
            f"dataset {name!r} has no file path. Pass one on the command line, e.g. "
            "dataset.path=/data/orders.csv (relative paths are resolved against the project "
            "folder)."
        )
    resolved = Path(os.path.expanduser(str(path)))
    if not resolved.is_absolute():
        resolved = Path(base_dir or Path.cwd()) / resolved
    if resolved.exists():
        return resolved
    if url:
        _download(url, resolved)
        return resolved
    raise SegmentationError(
        f"dataset file not found: {resolved} (dataset {name!r}, dataset.path={str(path)!r}). "
        f"Put the file there, set the environment variable {DATA_DIR_ENV} to the folder that "
        "holds the shared data files, or point to the file with dataset.path=/path/to/file."
    )


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        urllib.request.urlretrieve(url, partial)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise SegmentationError(
            f"dataset file {target} is missing and downloading it from {url} failed ({exc}). "
            f"Download it by hand to that path, set {DATA_DIR_ENV} to a folder that holds it, "
            "or point to a local copy with dataset.path=/path/to/file."
        ) from exc
    partial.replace(target)


# --------------------------------------------------------------------------------------------
# Transaction logs
# --------------------------------------------------------------------------------------------


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
    mapping = _column_mapping(columns, found, schema.TRANSACTION_COLUMNS, "transaction", path)
    _check_transaction_mapping(mapping, path)
    _check_columns_exist(mapping, found, path)
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
        null_values=_NULL_STRINGS,
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
    labels = _clean_id_labels(column.chunk(0).dictionary)
    indices = pa.chunked_array([chunk.indices for chunk in column.chunks], type=pa.int32())
    return ids.from_positions(labels, indices.fill_null(-1).to_numpy())


def _clean_id_labels(labels: pa.Array) -> pa.Array:
    """The id rule on distinct values: trim, ``17850.0`` -> ``17850``, blank -> missing."""
    labels = pc.utf8_trim_whitespace(labels.cast(pa.string()))
    if pc.any(pc.match_substring(labels, ".")).as_py():  # a plain search is 10x cheaper
        labels = pc.replace_substring_regex(labels, r"\.0+$", "")
    blank = pc.is_in(labels, value_set=pa.array(_NULL_STRINGS))
    return pc.if_else(blank, pa.scalar(None, pa.string()), labels)


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
                codes, labels = _id_codes(values)
                out[canonical] = ids.from_positions(labels, codes).set_axis(values.index)
        elif canonical in _NUMERIC_COLUMNS:
            out[canonical] = _to_float(values, where)
        elif canonical in _DATE_COLUMNS:
            out[canonical] = _to_datetime(values, date_format, where)
        else:
            out[canonical] = _to_text(values)
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
    mapping = _column_mapping(columns, found, schema.SUMMARY_COLUMNS, "summary", path)
    missing = [c for c in _SUMMARY_REQUIRED if c not in mapping]
    if missing:
        raise SegmentationError(
            f"the customer summary {path} has no column mapped to {', '.join(missing)}. "
            f"A summary table needs {', '.join(_SUMMARY_REQUIRED)} (tran_with_disc and "
            "created_at are needed for LRFMC only); map them under dataset.columns, e.g. "
            "dataset.columns.user_id=customer."
        )
    _check_columns_exist(mapping, found, path)
    raw = _read_raw(path, fmt, sorted(set(mapping.values())), string_columns=[mapping["user_id"]])
    return _canonical_summary(raw, mapping, date_format, path)


def _canonical_summary(
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
            out[canonical] = _to_float(raw[source], where)
        else:
            out[canonical] = _to_datetime(raw[source], date_format, where)
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
    mapping = {k: v for k, v in _as_mapping(columns).items() if v is not None}
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
            f"({_list(found)}) is named like a feature ({', '.join(schema.LRFMC_FEATURES)}) "
            "and dataset.columns maps none. Map them, e.g. dataset.columns.recency_days=R."
        )
    _check_columns_exist(mapping, found, path)
    id_source = mapping[schema.CUSTOMER_ID]
    raw = _read_raw(path, fmt, sorted(set(mapping.values())), string_columns=[id_source])
    frame = pd.DataFrame(
        {f: _to_float(raw[mapping[f]], f"column {mapping[f]!r} ({f}) of {path}") for f in features}
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
            f"{_examples(duplicated)}. A per-customer table needs one row per customer; "
            "aggregate the rows first or load the file as dataset.type=transactions."
        )
    return frame


# --------------------------------------------------------------------------------------------
# Column mapping and file access
# --------------------------------------------------------------------------------------------


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


def _plain_value(value):
    """Enum members from typed configs compare by their value."""
    return getattr(value, "value", value)


def _as_mapping(columns: Mapping | None) -> dict[str, str]:
    return {str(k): (None if v is None else str(v)) for k, v in (columns or {}).items()}


def _column_mapping(
    columns: Mapping[str, str] | None,
    found: list[str],
    canonical: tuple[str, ...],
    what: str,
    path: Path,
) -> dict[str, str]:
    """canonical -> source; no mapping means the file already uses canonical names."""
    mapping = {k: v for k, v in _as_mapping(columns).items() if v is not None}
    if not mapping:
        return {c: c for c in canonical if c in found}
    unknown = [k for k in mapping if k not in canonical]
    if unknown:
        hints = "".join(_did_you_mean(k, canonical) for k in unknown)
        raise SegmentationError(
            f"dataset.columns for {path} has key(s) {', '.join(map(repr, unknown))} that are "
            f"not {what} columns{hints}. The keys are canonical names ({', '.join(canonical)}) "
            "and the values are your file's column names."
        )
    return mapping


def _check_columns_exist(mapping: Mapping[str, str], found: list[str], path: Path) -> None:
    missing = {k: v for k, v in mapping.items() if v not in found}
    if not missing:
        return
    parts = [f"{v!r} (for {k}){_did_you_mean(v, found)}" for k, v in missing.items()]
    example = next(iter(missing))
    raise SegmentationError(
        f"{path} has no column {'; no column '.join(parts)}. Columns found: {_list(found)}. "
        f"Fix the mapping under dataset.columns, e.g. dataset.columns.{example}=<column name>."
    )


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(lowered[c]) for c in close)}?)"


# --------------------------------------------------------------------------------------------
# Value conversion
# --------------------------------------------------------------------------------------------


def normalise_ids(values: pd.Series) -> pd.Series:
    """Ids as ``str``: ``17850.0`` -> ``"17850"``, blanks -> missing.

    Works on the distinct values only, so it costs one factorize on a large log.
    """
    codes, labels = _id_codes(values)
    result = pd.array(labels, dtype="str").take(codes, allow_fill=True)
    return pd.Series(result, index=values.index, dtype="str", name=values.name)


def _id_codes(values: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Codes of each value (-1: missing) and the id rule applied to the distinct values."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if (finite == np.floor(finite)).all():
            values = values.astype("Int64")
    codes, uniques = pd.factorize(values)
    return codes, _clean_id_labels(pa.array(pd.Index(uniques).astype("str")))


def _to_text(values: pd.Series) -> pd.Series:
    if values.dtype != "str":
        values = values.astype("str").where(values.notna())
    return values.where(values != "")


def _blank_to_missing(values: pd.Series) -> pd.Series:
    """Stripped text with the usual spellings of "missing" turned into missing values."""
    text = values.astype("str").str.strip()
    return text.where(values.notna() & ~text.isin(_NULL_STRINGS))


def _to_float(values: pd.Series, where: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = _blank_to_missing(values)
    converted = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = text[text.notna() & converted.isna()]
    if len(bad):
        raise SegmentationError(
            f"{where} has {len(bad)} non-numeric value(s), e.g. {_examples(bad)}. "
            "Numbers must use '.' as decimal point and no currency signs or thousands "
            "separators; fix the values or map this role to another column under "
            "dataset.columns."
        )
    return converted


def _to_datetime(values: pd.Series, date_format: str | None, where: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    text = _blank_to_missing(values)
    # Auto: ISO dates (with or without times), else the format pandas infers from the first
    # value, which covers month-first dates like "12/1/2010 8:26".
    attempts = []
    for candidate in [date_format] if date_format else ["ISO8601", None]:
        parsed = pd.to_datetime(text, format=candidate, errors="coerce")
        failed = text[text.notna() & parsed.isna()]
        if failed.empty:
            return parsed
        attempts.append(failed)
    bad = min(attempts, key=len)
    expected = f"the format {date_format!r}" if date_format else "ISO or 12/1/2010 8:26 style"
    raise SegmentationError(
        f"{where} has {len(bad)} value(s) that are not dates in {expected}, e.g. "
        f"{_examples(bad)}. Give the format explicitly, e.g. dataset.date_format=%d/%m/%Y "
        "(strftime codes), or fix the values."
    )


def _examples(values: Iterable) -> str:
    unique = list(dict.fromkeys(map(str, values)))
    return ", ".join(repr(v) for v in unique[:_N_EXAMPLES])


def _list(names: Iterable[str]) -> str:
    return ", ".join(map(str, names))

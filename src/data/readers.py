"""Readers for the three kinds of input: transaction logs, per-customer summaries and feature
tables, in the canonical columns and dtypes of ``src.columns``.

Everything goes through polars. A transaction log is *scanned*: ``scan_transactions`` returns a
lazy query of the canonical columns (projection and predicate pushdown reach the file) plus the
checks of its conversions, so cleaning and features can be added to the same query and the file
is read once (``LogScan.collect``). Sources are CSV (plain or compressed), Parquet, a folder or
glob of such files with one schema, and XLSX.

Transaction logs need ``customer_id``, ``invoice_date`` and either ``amount`` or
``quantity`` + ``unit_price`` (then ``amount = quantity * unit_price``). When a log gives a
ready ``amount``, ``quantity`` and ``unit_price`` are kept only if mapped too; they are never
invented, and the cleaning rules that need them fall back to the sign of ``amount`` or are
skipped. Without ``invoice_id`` every row is one order and gets its row number as invoice id.
Ids are ``String``; the index of per-customer tables (pandas, like everything per customer) is
``str``.

CSV numbers are parsed by the CSV reader itself (the fast path); when a value does not parse
that way, the columns are read as text and converted by expressions whose checks name the
column and show bad values (``src.data.convert``).
"""

from __future__ import annotations

import csv
import functools
import glob as globbing
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import polars as pl

from src import columns as schema
from src.data import convert
from src.data.convert import (
    NULL_STRINGS,
    Converted,
    as_mapping,
    check_columns_exist,
    column_mapping,
    examples,
    listing,
)
from src.errors import SegmentationError

FORMATS = ("csv", "excel", "parquet")
_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")

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
_HEAD_BYTES = 1 << 16
_BAD = "_bad_{}"


# --------------------------------------------------------------------------------------------
# Sources: files, folders, globs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The files of one table and how to read them."""

    files: tuple[Path, ...]
    format: str
    name: str  # what error messages call it: the path or glob the user gave
    delimiter: str | None = None
    sheet: str | None = None

    @property
    def first(self) -> Path:
        return self.files[0]

    @property
    def label(self) -> str:
        """The name, and for CSV split on another character than ",", which one."""
        if self.format == "csv" and self.delimiter not in (None, ","):
            return f"{self.name} (fields separated by {self.delimiter!r})"
        return self.name


def source(
    path: str | Path,
    fmt: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Source:
    """A file, a folder of files (all with the format's suffixes) or a glob pattern."""
    given = str(path)
    if globbing.has_magic(given):
        files = sorted(Path(p) for p in globbing.glob(given, recursive=True) if Path(p).is_file())
        if not files:
            raise SegmentationError(
                f"no file matches {given}. Check the pattern in dataset.path (e.g. "
                "/data/orders/*.parquet) and that the files are there."
            )
    elif Path(given).is_dir():
        files = sorted(p for p in Path(given).iterdir() if p.is_file() and _suffix_format(p))
        if not files:
            raise SegmentationError(
                f"the folder {given} holds no .csv, .csv.gz, .parquet or .xlsx file. Point "
                "dataset.path at the folder that holds the log's files, or at one file."
            )
    else:
        files = [Path(given)]
    formats = {infer_format(f, fmt) for f in files}
    if len(formats) > 1:
        raise SegmentationError(
            f"{given} mixes file formats ({', '.join(sorted(formats))}). A table read from "
            "several files needs one format and one schema; keep one kind of file there."
        )
    fmt = formats.pop()
    if fmt == "csv" and delimiter is None:
        delimiter = sniff_delimiter(files[0])
    return Source(tuple(files), fmt, given, delimiter, sheet)


_DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(path: Path) -> str:
    """The field separator of a CSV file: of ``, ; tab |``, the one that splits its header
    into the most fields (a comma when none splits it)."""
    lines = _head(path).splitlines()
    if not lines:
        return ","
    fields = {d: len(next(csv.reader([lines[0]], delimiter=d))) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: fields[d])
    return best if fields[best] > 1 else ","


def _suffix_format(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return _SUFFIXES.get(suffixes[-1] if suffixes else "")


def infer_format(path: Path, fmt: str | None = None) -> str:
    """``csv``, ``excel`` or ``parquet``: as given, else from the file suffix."""
    fmt = convert.plain_value(fmt)
    if fmt:
        if fmt not in FORMATS:
            raise SegmentationError(
                f"dataset.format={fmt!r} is not supported (file {path}). Use one of "
                f"{', '.join(FORMATS)}, or leave it null to infer it from the file suffix."
            )
        return fmt
    found = _suffix_format(path)
    if found is None:
        raise SegmentationError(
            f"cannot tell the format of {path} from its suffix. Name it .csv, .csv.gz, .xlsx or "
            ".parquet, or set it explicitly with dataset.format=csv (or excel, parquet)."
        )
    return found


def _head(path: Path) -> str:
    """The first bytes of a (possibly compressed) text file, decoded."""
    stat = path.stat()
    return _cached_head(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _cached_head(path: str, size: int, mtime: int) -> str:
    import pyarrow as pa

    try:
        with pa.input_stream(path, compression="detect") as stream:
            head = stream.read(_HEAD_BYTES)
    except (OSError, pa.ArrowException) as exc:
        raise compression_error(Path(path), exc) from None
    if len(head) < _HEAD_BYTES and path.lower().endswith(".gz") and _gzip_problem(Path(path)):
        # The whole file was inflated (it is short), and its end is missing or broken.
        raise compression_error(Path(path), OSError("unreadable"))
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def compression_error(path: Path, exc: Exception) -> SegmentationError:
    """What is wrong with a compressed file that cannot be read, in one sentence."""
    problem = _gzip_problem(path) if path.suffix.lower() == ".gz" else None
    return SegmentationError(
        f"cannot read {path}: {problem or str(exc).strip().splitlines()[0]}. Check the file "
        "(download or copy it again), or point dataset.path at a good copy."
    )


def _gzip_problem(path: Path) -> str | None:
    """Why a .gz file does not inflate: truncated, or not gzip at all (None: it is fine)."""
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
    except EOFError:
        return "it is truncated (the gzip data ends early, e.g. an interrupted download)"
    except (gzip.BadGzipFile, zlib.error) as exc:
        return f"it is not gzip data although it is named .gz ({exc})"
    return None


def column_names(src: Source) -> list[str]:
    """Header of the first file without reading its rows."""
    if src.format == "csv":
        head = _head(src.first)
        if not head.strip():
            raise SegmentationError(
                f"{src.first} is empty: it has no header line and no rows. Export the log "
                "again, or point dataset.path at the file that holds it."
            )
        return next(csv.reader(io.StringIO(head), delimiter=src.delimiter or ","), [])
    if src.format == "parquet":
        return list(pl.read_parquet_schema(src.first).keys())
    return list(_read_excel(src, []).columns)


def _csv_sample(src: Source, column: str, n: int = 200) -> list[str | None]:
    """The first values of one column, from the first bytes of the first file."""
    rows = _head_rows(_head(src.first), src.delimiter or ",")
    if len(rows) < 2:
        return []
    header, body = rows[0], rows[1:-1] if len(rows) > 2 else rows[1:]
    if column not in header:
        return []
    i = header.index(column)
    return [r[i] for r in body[:n] if len(r) > i]


@functools.lru_cache(maxsize=8)
def _head_rows(head: str, delimiter: str) -> list[list[str]]:
    """The rows of a file's first bytes (parsed once per file: a read samples several columns)."""
    return list(csv.reader(io.StringIO(head), delimiter=delimiter))


def _read_excel(src: Source, string_columns: Iterable[str]) -> pl.DataFrame:
    sheet = src.sheet
    kwargs: dict = {}
    if sheet is not None:
        kwargs = {"sheet_id": int(sheet)} if str(sheet).isdigit() else {"sheet_name": str(sheet)}
    overrides = dict.fromkeys(string_columns, pl.String)
    frames = [
        pl.read_excel(f, schema_overrides=overrides or None, infer_schema_length=None, **kwargs)
        for f in src.files
    ]
    return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]


def _scan(
    src: Source,
    types: Mapping[str, pl.DataType],
    columns: Sequence[str],
    null_strings: bool = True,
) -> pl.LazyFrame:
    """The used columns of every file; CSV columns not in ``types`` are read as text.

    ``null_strings=False`` leaves the spellings of "missing" to the conversions (matching nine
    strings in every field is a good part of a CSV read); only empty fields are null then.
    """
    files = [str(f) for f in src.files]
    if src.format == "csv":
        frame = pl.scan_csv(
            files,
            separator=src.delimiter or ",",
            infer_schema=False,
            schema_overrides=dict(types) or None,
            null_values=NULL_STRINGS if null_strings else None,
            missing_columns="insert",
        )
    elif src.format == "parquet":
        frame = pl.scan_parquet(files)
    else:
        frame = _read_excel(src, [c for c, t in types.items() if t == pl.String]).lazy()
    return frame.select([pl.col(c) for c in dict.fromkeys(columns)])


def _read_error(src: Source, exc: Exception) -> SegmentationError:
    for path in src.files:
        if path.suffix.lower() == ".gz" and _gzip_problem(path):
            return compression_error(path, exc)
    return SegmentationError(
        f"cannot parse {src.name} as {src.format.upper() if src.format == 'csv' else src.format} "
        f"({str(exc).strip().splitlines()[0]}). Check that the file is a valid {src.format} file "
        "(comma-separated UTF-8 text with one header row for CSV), or set dataset.format to its "
        "real format."
    )


# --------------------------------------------------------------------------------------------
# Transaction logs
# --------------------------------------------------------------------------------------------


@dataclass
class LogScan:
    """A lazy query of a log in canonical columns, with the checks of its conversions.

    ``frame`` holds the canonical columns plus one ``_bad_<column>`` flag per checked
    conversion. ``read()`` collects the log; ``run(query)`` collects one query built on
    ``frame`` that carries the flags' sums (``bad_columns``), so a one-pass aggregation checks
    the conversions too. Both take the fast path first and, when its checks (or the CSV parser)
    find a value it may get wrong, read again on the careful path, whose checks are errors.
    """

    src: Source
    mapping: dict[str, str]
    date_format: str | None
    careful: bool = False  # False: the fast path (typed CSV numbers, shortcut ids and dates)
    raw: pl.LazyFrame = field(init=False)
    frame: pl.LazyFrame = field(init=False)
    converted: list[Converted] = field(init=False)

    def __post_init__(self) -> None:
        self.raw, self.frame, self.converted = _canonical_log(
            self.src, self.mapping, self.date_format, self.careful
        )

    @property
    def checked(self) -> list[Converted]:
        return [c for c in self.converted if c.bad is not None]

    def read(self, **kwargs) -> pl.DataFrame:
        """The log in canonical columns (``kwargs``: ``collect``'s)."""
        lines = self._collect(lambda frame: frame, **kwargs)
        return lines.drop([c for c in lines.columns if c.startswith(_BAD.format(""))])

    @property
    def rescans_cheaply(self) -> bool:
        """Whether a second pass over the source costs little next to holding it in memory:
        Parquet's columns are read, not parsed."""
        return self.src.format == "parquet"

    def may_have(self, lines: int) -> bool:
        """Whether the log may have ``lines`` lines or more, without reading it: Parquet
        says in its metadata; other files are judged by their size on disk (a gzip CSV line
        takes a dozen bytes or more, so below 4 bytes a line they cannot hold that many)."""
        if self.src.format == "parquet":
            return self.lines() >= lines
        return sum(f.stat().st_size for f in self.src.files) >= 4 * lines

    def lines(self) -> int:
        """How many lines the log has: from the metadata of Parquet files, a fast count of
        the others' lines (counted once per scan)."""
        return self._line_count

    @functools.cached_property
    def _line_count(self) -> int:
        try:
            return int(self.raw.select(pl.len()).collect().item())
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise _read_error(self.src, exc) from exc

    def run(
        self,
        query: Callable[[pl.LazyFrame], pl.LazyFrame | list[pl.LazyFrame]],
        keys: Sequence[str] = (),
        **kwargs,
    ) -> pl.DataFrame | list[pl.DataFrame]:
        """``query(frame)`` collected: an aggregation grouped by ``keys`` that carries the sums
        of ``bad_columns(frame, keys)``. Ids among ``keys`` are checked on the distinct keys.

        ``query`` may return several queries on ``frame`` (collected together, see ``collect``):
        the first is the one grouped by ``keys``, and the sums may be in any of them.
        """
        return self._collect(query, keys, **kwargs)

    def run_parts(
        self,
        query: Callable[[pl.LazyFrame, int], list[pl.LazyFrame]],
        parts: int,
        keys: Sequence[str] = (),
        done: Callable[[int], object] | None = None,
        **kwargs,
    ) -> list[list[pl.DataFrame]]:
        """``run`` of ``query(frame, part)`` for each part in turn (``done(part)`` after each).
        Every part is read on one path: when one needs the careful path, all are read again on
        it, so that a part selected by a value (e.g. a hash of the customer id) means the same
        lines in each."""
        scan, results = self, []
        for part in range(parts):
            found, used = scan._collect_on_path(
                lambda frame, part=part: query(frame, part), keys, **kwargs
            )
            if used.careful and not scan.careful:
                return used.run_parts(query, parts, keys, done, **kwargs)
            results.append(found)
            if done is not None:
                done(part)
        return results

    def _collect(self, query, keys: Sequence[str] = (), **kwargs):
        return self._collect_on_path(query, keys, **kwargs)[0]

    def _collect_on_path(self, query, keys: Sequence[str] = (), **kwargs):
        """(the collected results, the scan that read them: this one or its careful path)."""
        try:
            results = collect(query(self.frame), **kwargs)
        except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError) as exc:
            # The fast path's strict parses raise on a value they cannot take: read carefully.
            if not self.careful:
                return replace(self, careful=True)._collect_on_path(query, keys, **kwargs)
            raise _read_error(self.src, exc) from exc
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise _read_error(self.src, exc) from exc
        result = results[0] if isinstance(results, list) else results
        sums = {
            column: frame[column]
            for frame in (results if isinstance(results, list) else [results])
            for column in frame.columns
        }
        counts = {}
        for c in self.checked:
            column = _BAD.format(c.canonical)
            if column in sums:
                counts[c.canonical] = int(sums[column].sum())
            elif c.canonical in keys:  # a shortcut id checked on its distinct values
                keys_ = result.select(pl.col(c.canonical).drop_nulls().unique())
                full = keys_.select(convert.id_expr(c.canonical, pl.String).alias("f"))
                counts[c.canonical] = int((full["f"] != keys_[c.canonical]).fill_null(True).sum())
        if any(counts.values()) and not self.careful:
            return replace(self, careful=True)._collect_on_path(query, keys, **kwargs)
        self.raise_problems(counts)
        return results, self

    def raise_problems(self, counts: Mapping[str, int]) -> None:
        """The first conversion error the checks counted, with examples from the file."""
        for c in self.checked:
            if c.fallback or not counts.get(c.canonical):
                continue
            found = (
                self.raw.with_row_index("_row", offset=1)
                .filter(c.bad)
                .select("_row", c.source)
                .head(1000)
                .collect()
            )
            values, rows = found[c.source].to_list(), found["_row"].to_list()
            error = c.error(self.src.label, counts[c.canonical], values, rows)
            if c.canonical in _DATE_COLUMNS and not self.date_format:
                styles = convert.describe_bad_dates(values)
                if styles:
                    first = c.problem.removeprefix("value(s) that are not dates in ")
                    # The generic advice (one dataset.date_format) cannot read two styles.
                    found = str(error).removesuffix(c.fix).rstrip()
                    error = SegmentationError(
                        f"{found} The column mixes date styles: most of its first values are in "
                        f"{first}, but of the values shown {styles}. A column must use one "
                        "style, and no single dataset.date_format reads two: convert the column "
                        "to one style upstream."
                    )
            raise error


# ``collect(..., separate=True)``: no common-subplan elimination. Polars holds the subplan
# several queries share in memory to compute it once, and for queries on one log that is the
# whole log (19M lines of Parquet: 2.7 GB): where the result is large too (the cleaned log of
# ``load_clean``) and the source cheap to read again (Parquet, lines in memory), each query
# reads it itself, in about the same time. Aggregations keep it: the 10M-customer feature build
# ran 206-224 s with it and 275 s without, in the same memory. A CSV is parsed once either way.
SEPARATE_PLANS = pl.QueryOptFlags(comm_subplan_elim=False)


def collect(
    queries: pl.LazyFrame | Sequence[pl.LazyFrame], separate: bool = False, **kwargs
) -> pl.DataFrame | list[pl.DataFrame]:
    """A query collected, or several together (``pl.collect_all``); ``separate``: each reads
    its source itself (``SEPARATE_PLANS``), for a source that is cheap to read again."""
    if separate:
        kwargs = {"optimizations": SEPARATE_PLANS, **kwargs}
    if isinstance(queries, pl.LazyFrame):
        return queries.collect(**kwargs)
    return pl.collect_all(list(queries), **kwargs)


def bad_columns(frame: pl.LazyFrame, keys: Sequence[str] = ()) -> list[pl.Expr]:
    """The check flags of a ``LogScan.frame``, to carry (summed) through an aggregation.

    Ids among the aggregation's group ``keys`` are checked on the keys instead (see
    ``LogScan.run``), which costs nothing per line.
    """
    prefix = _BAD.format("")
    names = [c for c in schema.names(frame) if c.startswith(prefix)]
    return [pl.col(c) for c in names if c.removeprefix(prefix) not in keys]


def _log_types(mapping: Mapping[str, str], careful: bool) -> dict[str, pl.DataType]:
    """Read types for a CSV log: text everywhere, numbers typed on the fast path."""
    types: dict[str, pl.DataType] = {}
    for canonical, src_column in mapping.items():
        wanted = pl.Float64 if not careful and canonical in _NUMERIC_COLUMNS else pl.String
        if types.setdefault(src_column, wanted) != wanted:
            types[src_column] = pl.String  # one source column feeding two roles
    return types


def _check_transaction_mapping(mapping: Mapping[str, str], name: str) -> None:
    missing = [c for c in (schema.CUSTOMER_ID, schema.INVOICE_DATE) if c not in mapping]
    has_amount = schema.AMOUNT in mapping
    has_lines = schema.QUANTITY in mapping and schema.UNIT_PRICE in mapping
    if not has_amount and not has_lines:
        missing += [c for c in (schema.QUANTITY, schema.UNIT_PRICE) if c not in mapping]
        missing.append(f"or {schema.AMOUNT}")
    if missing:
        raise SegmentationError(
            f"the transaction log {name} has no column mapped to {', '.join(missing)}. A log "
            "needs customer_id, invoice_date and either quantity + unit_price or amount; map "
            "them under dataset.columns, e.g. dataset.columns.customer_id=CustomerID."
        )


def _canonical_log(
    src: Source, mapping: Mapping[str, str], date_format: str | None, careful: bool
) -> tuple[pl.LazyFrame, pl.LazyFrame, list[Converted]]:
    """(raw source columns, canonical log, conversions) as lazy queries on ``src``."""
    raw = _scan(src, _log_types(mapping, careful), list(mapping.values()), null_strings=careful)
    dtypes = raw.collect_schema()
    converted: list[Converted] = []
    for canonical in schema.TRANSACTION_COLUMNS:
        if canonical not in mapping:
            continue
        column = mapping[canonical]
        dtype = dtypes[column]
        if canonical in _ID_COLUMNS and dtype == pl.String and not careful:
            converted.append(convert.fast_id(canonical, column, _sample(src, column)))
        elif canonical in _ID_COLUMNS:
            converted.append(Converted(canonical, column, convert.id_expr(column, dtype)))
        elif canonical in _NUMERIC_COLUMNS:
            # The careful CSV read turns "NaN" and "nan" into nulls itself.
            nan = not (careful and src.format == "csv")
            converted.append(convert.to_float(canonical, column, dtype, nan_possible=nan))
        elif canonical in _DATE_COLUMNS:
            formats = _date_formats(src, column, dtype, date_format)
            converted.append(
                convert.to_datetime(
                    canonical, column, dtype, formats, bool(date_format), careful=careful
                )
            )
        else:
            # CSV text gets the careful read's treatment of the spellings of "missing".
            nulls = src.format == "csv" and not careful
            converted.append(convert.to_text(canonical, column, dtype, null_strings=nulls))
    # The checks are columns of the same query as the log, so one read serves both.
    flags = [c.bad.alias(_BAD.format(c.canonical)) for c in converted if c.bad is not None]
    frame = raw.select([c.expr.alias(c.canonical) for c in converted] + flags)
    if schema.INVOICE_ID not in mapping:
        frame = frame.with_columns(pl.int_range(pl.len()).cast(pl.String).alias(schema.INVOICE_ID))
    if schema.AMOUNT not in mapping:
        frame = frame.with_columns(
            (pl.col(schema.QUANTITY) * pl.col(schema.UNIT_PRICE)).alias(schema.AMOUNT)
        )
    present = schema.names(frame)
    ordered = [c for c in schema.TRANSACTION_COLUMNS if c in present]
    return raw, frame.select(ordered + [f.meta.output_name() for f in flags]), converted


def _sample(src: Source, column: str) -> list[str | None]:
    """The first values of a column as text (CSV: from the first bytes of the first file)."""
    if src.format == "csv":
        return _csv_sample(src, column)
    return _scan(src, {}, [column]).head(200).collect()[column].cast(pl.String).to_list()


def _date_formats(
    src: Source, column: str, dtype: pl.DataType, date_format: str | None
) -> tuple[str, ...]:
    if date_format or dtype != pl.String:
        return convert.date_formats([], date_format)
    return _sampled_date_formats(tuple(_sample(src, column)))


@functools.lru_cache(maxsize=32)
def _sampled_date_formats(sample: tuple[str | None, ...]) -> tuple[str, ...]:
    """``convert.date_formats`` of a sample (the same file's sample gives the same patterns)."""
    return convert.date_formats(sample, None)


def scan_transactions(
    src: Source, columns: Mapping[str, str] | None, date_format: str | None = None
) -> LogScan:
    """The log of ``src`` as a lazy query in canonical columns (see ``LogScan``)."""
    found = column_names(src)
    mapping = column_mapping(columns, found, schema.TRANSACTION_COLUMNS, "transaction", src.name)
    _check_transaction_mapping(mapping, src.name)
    _check_columns(src, mapping, found)
    return LogScan(src, dict(mapping), date_format)


def _check_columns(src: Source, mapping: Mapping[str, str], found: list[str]) -> None:
    """``check_columns_exist``, and for a workbook whose first sheet lacks the columns, which
    sheet has them."""
    try:
        check_columns_exist(mapping, found, src.label)
    except SegmentationError as error:
        hint = _sheet_hint(src, mapping) if src.format == "excel" and src.sheet is None else ""
        if not hint:
            raise
        raise SegmentationError(f"{error} {hint}") from None


def _sheet_hint(src: Source, mapping: Mapping[str, str]) -> str:
    from fastexcel import read_excel

    wanted = set(mapping.values())
    workbook = read_excel(str(src.first))
    for name in workbook.sheet_names[1:]:
        header = workbook.load_sheet_by_name(name, n_rows=1).to_polars().columns
        if wanted <= set(header):
            return (
                f"They are on sheet {name!r} of the workbook (read: its first sheet); set "
                f"dataset.sheet={name}."
            )
    sheets = ", ".join(map(repr, workbook.sheet_names))
    return f"The workbook's sheets are {sheets}; choose one with dataset.sheet=<name>."


def read_transactions(
    path: str | Path,
    columns: Mapping[str, str] | None,
    date_format: str | None = None,
    fmt: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> pl.DataFrame:
    """Read an invoice-line log into the canonical columns and dtypes of ``src.columns``."""
    return scan_transactions(source(path, fmt, delimiter, sheet), columns, date_format).read()


# --------------------------------------------------------------------------------------------
# Per-customer tables
# --------------------------------------------------------------------------------------------


def read_table(src: Source, columns: Sequence[str], what: str) -> pl.DataFrame:
    """Named columns of a small table (all read as stored; CSV as text), checked to exist."""
    found = column_names(src)
    check_columns_exist({c: c for c in columns}, found, f"{src.name} ({what})")
    return _read_table(src, list(columns), [])


def _read_table(src: Source, columns: Sequence[str], string_columns: Iterable[str]) -> pl.DataFrame:
    types = dict.fromkeys(string_columns, pl.String)
    if src.format == "csv":
        types = dict.fromkeys(columns, pl.String)
    try:
        return _scan(src, types, columns).collect()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise _read_error(src, exc) from exc


def _convert_table(raw: pl.DataFrame, converted: list[Converted], where: str) -> pl.DataFrame:
    checks = [c.bad.sum().alias(c.canonical) for c in converted if c.bad is not None]
    if checks:
        counts = raw.select(checks)
        for c in converted:
            if c.bad is not None and counts[c.canonical][0]:
                found = raw.with_row_index("_row", offset=1).filter(c.bad)
                values, rows = found[c.source].to_list(), found["_row"].to_list()
                raise c.error(where, int(counts[c.canonical][0]), values, rows)
    return raw.select([c.expr.alias(c.canonical) for c in converted])


def read_customer_summary(
    path: str | Path,
    columns: Mapping[str, str] | None,
    date_format: str | None = None,
    fmt: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> pd.DataFrame:
    """Read the per-customer summary schema; index ``customer_id``, the summary columns."""
    src = source(path, fmt, delimiter, sheet)
    found = column_names(src)
    mapping = column_mapping(columns, found, schema.SUMMARY_COLUMNS, "summary", src.name)
    missing = [c for c in _SUMMARY_REQUIRED if c not in mapping]
    if missing:
        raise SegmentationError(
            f"the customer summary {src.name} has no column mapped to {', '.join(missing)}. "
            f"A summary table needs {', '.join(_SUMMARY_REQUIRED)} (tran_with_disc and "
            "created_at are needed for LRFMC only); map them under dataset.columns, e.g. "
            "dataset.columns.user_id=customer."
        )
    _check_columns(src, mapping, found)
    raw = _read_table(src, list(dict.fromkeys(mapping.values())), [mapping[schema.USER_ID]])
    return canonical_summary(raw, mapping, date_format, src.name)


def canonical_summary(
    raw: pl.DataFrame,
    mapping: Mapping[str, str],
    date_format: str | None,
    where: str,
) -> pd.DataFrame:
    """Summary rows in canonical columns and dtypes, indexed by ``customer_id`` (pandas)."""
    mapping = mapping or {c: c for c in schema.SUMMARY_COLUMNS if c in raw.columns}
    converted = [
        Converted(
            schema.CUSTOMER_ID,
            mapping[schema.USER_ID],
            convert.id_expr(mapping[schema.USER_ID], raw.schema[mapping[schema.USER_ID]]),
        )
    ]
    for canonical in schema.SUMMARY_COLUMNS[1:]:
        if canonical not in mapping:
            continue
        column = mapping[canonical]
        dtype = raw.schema[column]
        if canonical in _SUMMARY_NUMERIC:
            converted.append(convert.to_float(canonical, column, dtype))
        else:
            sample = raw[column].head(200).cast(pl.String).to_list() if dtype == pl.String else []
            formats = convert.date_formats(sample, date_format)
            converted.append(
                convert.to_datetime(canonical, column, dtype, formats, bool(date_format))
            )
    table = _convert_table(raw, converted, where)
    return _per_customer(table, where)


def _per_customer(table: pl.DataFrame, where: str) -> pd.DataFrame:
    frame = table.to_pandas().set_index(schema.CUSTOMER_ID)
    frame.index = frame.index.astype("str")
    return _check_unique_ids(frame, where)


def read_feature_table(
    path: str | Path,
    columns: Mapping[str, str] | None,
    fmt: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> pd.DataFrame:
    """Read precomputed features; index ``customer_id``, one float64 column per feature.

    ``columns`` maps feature names (and ``customer_id``) to source columns; without feature
    entries every column named like a known feature is taken.
    """
    src = source(path, fmt, delimiter, sheet)
    found = column_names(src)
    mapping = {k: v for k, v in as_mapping(columns).items() if v is not None}
    unknown = [k for k in mapping if k not in (schema.CUSTOMER_ID, *schema.LRFMC_FEATURES)]
    if unknown:
        raise SegmentationError(
            f"dataset.columns of the feature table {src.name} names unknown feature(s) "
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
            f"the feature table {src.name} has no feature columns: none of its columns "
            f"({listing(found)}) is named like a feature ({', '.join(schema.LRFMC_FEATURES)}) "
            "and dataset.columns maps none. Map them, e.g. dataset.columns.recency_days=R."
        )
    _check_columns(src, mapping, found)
    id_source = mapping[schema.CUSTOMER_ID]
    raw = _read_table(src, list(dict.fromkeys(mapping.values())), [id_source])
    converted = [
        Converted(schema.CUSTOMER_ID, id_source, convert.id_expr(id_source, raw.schema[id_source]))
    ]
    converted += [convert.to_float(f, mapping[f], raw.schema[mapping[f]]) for f in features]
    table = _convert_table(raw, converted, src.name)
    return _per_customer(table, src.name)


def _check_unique_ids(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    if frame.index.hasnans:
        raise SegmentationError(
            f"{int(frame.index.isna().sum())} row(s) of {where} have no customer id. "
            "A per-customer table needs an id on every row; fill or drop those rows."
        )
    duplicated = frame.index[frame.index.duplicated()]
    if len(duplicated):
        raise SegmentationError(
            f"{where} has {len(duplicated)} repeated customer id(s), e.g. "
            f"{examples(duplicated)}. A per-customer table needs one row per customer; "
            "aggregate the rows first or load the file as dataset.type=transactions."
        )
    return frame

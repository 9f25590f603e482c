"""Column mapping and value conversion: source columns to canonical names and dtypes.

Conversions are polars expressions on the source columns, so a reader can run them inside the
same lazy query as the cleaning rules and features. Each conversion also has a *check*: an
expression that is true on the rows whose value could not be converted. Readers count the
checks in the same query; only when a count is not zero is the file read again to show bad
examples, in a ``SegmentationError`` that names the file, the column and the values, and says
how to fix them:

- ids become ``str``: float-looking ids such as ``"17850.0"`` become ``"17850"``, surrounding
  spaces are trimmed and the usual spellings of "missing" (``""``, ``NA``, ``null``, ...)
  become missing;
- numbers become ``Float64`` (``'.'`` as decimal point, no currency signs; NaN is missing);
- dates become ``Datetime("us")``; ``date_format`` (a strftime pattern such as ``"%Y%m%d"``)
  applies to every date column of a file; without it ISO dates (with or without a time) or
  month-first ones like ``"12/1/2010 8:26"`` are accepted, one style per column.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from src.errors import SegmentationError

NULL_STRINGS = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "<NA>"]
TIME_UNIT = "us"
_N_EXAMPLES = 5
_SUSPICIOUS_ID = r"^\s|\s$|\.0+$|^(" + "|".join(map(re.escape, NULL_STRINGS)) + ")$"

# Date styles tried when no date_format is given, each a family of strftime patterns. A column
# must use one family; within it, values may mix patterns (dates with and without a time).
ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
MONTH_FIRST_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")
DATE_STYLES = {"ISO": ISO_FORMATS, "month-first": MONTH_FIRST_FORMATS}
_STYLE_EXAMPLES = {"ISO": "2010-12-01 08:26:00", "month-first": "12/1/2010 8:26"}


def plain_value(value):
    """Enum members from typed configs compare by their value."""
    return getattr(value, "value", value)


def as_mapping(columns: Mapping | None) -> dict[str, str]:
    return {str(k): (None if v is None else str(v)) for k, v in (columns or {}).items()}


def column_mapping(
    columns: Mapping[str, str] | None,
    found: list[str],
    canonical: tuple[str, ...],
    what: str,
    path: Path | str,
) -> dict[str, str]:
    """canonical -> source; no mapping means the file already uses canonical names."""
    mapping = {k: v for k, v in as_mapping(columns).items() if v is not None}
    if not mapping:
        return {c: c for c in canonical if c in found}
    unknown = [k for k in mapping if k not in canonical]
    if unknown:
        hints = "".join(did_you_mean(k, canonical) for k in unknown)
        raise SegmentationError(
            f"dataset.columns for {path} has key(s) {', '.join(map(repr, unknown))} that are "
            f"not {what} columns{hints}. The keys are canonical names ({', '.join(canonical)}) "
            "and the values are your file's column names."
        )
    return mapping


def check_columns_exist(mapping: Mapping[str, str], found: list[str], path: Path | str) -> None:
    missing = {k: v for k, v in mapping.items() if v not in found}
    if not missing:
        return
    parts = [f"{v!r} (for {k}){did_you_mean(v, found)}" for k, v in missing.items()]
    example = next(iter(missing))
    raise SegmentationError(
        f"{path} has no column {'; no column '.join(parts)}. Columns found: {listing(found)}. "
        f"Fix the mapping under dataset.columns, e.g. dataset.columns.{example}=<column name>."
    )


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(lowered[c]) for c in close)}?)"


def examples(values: Iterable) -> str:
    unique = list(dict.fromkeys(map(str, values)))
    return ", ".join(repr(v) for v in unique[:_N_EXAMPLES])


def listing(names: Iterable[str]) -> str:
    return ", ".join(map(str, names))


# --------------------------------------------------------------------------------------------
# Conversions as expressions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Converted:
    """One canonical column: its expression and the rows it could not convert."""

    canonical: str
    source: str
    expr: pl.Expr
    bad: pl.Expr | None = None  # true where a present value did not convert
    problem: str = ""  # what "bad" means, for the error message
    fix: str = ""
    fallback: bool = False  # bad rows mean "convert carefully", not an error

    def error(
        self, where: str, n_bad: int, bad_values: Sequence, rows: Sequence[int] = ()
    ) -> SegmentationError:
        at = (
            f" (data rows {', '.join(map(str, rows[:_N_EXAMPLES]))}, counted from 1)"
            if rows
            else ""
        )
        return SegmentationError(
            f"column {self.source!r} ({self.canonical}) of {where} has {n_bad:,} "
            f"{self.problem}, e.g. {examples(bad_values)}{at}. {self.fix}"
        )


def text(column: str) -> pl.Expr:
    """Stripped text, with the usual spellings of "missing" as missing."""
    value = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(value.is_in(NULL_STRINGS)).then(None).otherwise(value)


def id_expr(column: str, dtype: pl.DataType) -> pl.Expr:
    """The id rule: ``"17850.0"`` and ``17850.0`` -> ``"17850"``, blanks -> missing."""
    value = pl.col(column)
    if dtype.is_float():
        value = value.fill_nan(None)
        whole = value == value.floor()
        return (
            pl.when(whole)
            .then(value.cast(pl.Int64).cast(pl.String))
            .otherwise(value.cast(pl.String))
        )
    if dtype.is_integer():
        return value.cast(pl.String)
    text = value.cast(pl.String).str.strip_chars()
    # r"\.0+$" removed with literal string operations (several times faster than the regex):
    # strip the trailing zeros, and keep that only when a dot was in front of them.
    zeros_gone = text.str.strip_chars_end("0")
    whole = text.str.ends_with("0") & zeros_gone.str.ends_with(".")
    cleaned = pl.when(whole).then(zeros_gone.str.head(-1)).otherwise(text)
    return pl.when(cleaned.is_in(NULL_STRINGS)).then(None).otherwise(cleaned)


def fast_id(canonical: str, source: str, sample: Sequence[str | None]) -> Converted:
    """The id rule for text ids that look clean in ``sample``: cut a ``".0"`` suffix if the sample
    has them, nothing else. ``bad`` marks the values this shortcut may get wrong (whitespace
    around, a longer ``".00"`` suffix, a spelling of "missing"), so a reader falls back to
    ``id_expr`` when any exists; on clean ids it costs a fraction of the full rule.
    """
    value = pl.col(source)
    if any(isinstance(v, str) and v.endswith(".0") for v in sample):
        value = value.str.strip_suffix(".0")
    # One regex flags what the full rule would change: whitespace around, a ".0"-type suffix,
    # a spelling of "missing".
    suspicious = value.str.contains(_SUSPICIOUS_ID)
    return Converted(canonical, source, value, bad=suspicious.fill_null(False), fallback=True)


def to_text(
    canonical: str, source: str, dtype: pl.DataType, null_strings: bool = False
) -> Converted:
    """Text kept as written (no trimming); empty text is missing, and with ``null_strings``
    the exact spellings of "missing" too (what a CSV read does)."""
    value = pl.col(source).cast(pl.String)
    missing = value.is_in(NULL_STRINGS) if null_strings else value == ""
    return Converted(canonical, source, pl.when(missing).then(None).otherwise(value))


def to_float(
    canonical: str, source: str, dtype: pl.DataType, nan_possible: bool = True
) -> Converted:
    """Numbers as Float64; NaN becomes missing; text that is no number and infinite values
    (``inf``, ``Infinity``: no price or quantity is infinite) are bad values.

    ``nan_possible=False``: the reader cannot produce NaN (a CSV read with "NaN" and "nan"
    among its null values), so the NaN test is skipped.
    """
    if dtype.is_numeric():
        value = pl.col(source).cast(pl.Float64)
        number = value.fill_nan(None) if nan_possible else value
        bad = number.is_infinite().fill_null(False)
    else:
        raw = text(source)
        number = raw.cast(pl.Float64, strict=False).fill_nan(None)
        bad = (raw.is_not_null() & number.is_null()) | number.is_infinite().fill_null(False)
    return Converted(
        canonical,
        source,
        number,
        bad=bad,
        problem="value(s) that are not finite numbers",
        fix="Numbers must be finite and use '.' as decimal point, without currency signs or "
        "thousands separators; fix the values or map this role to another column under "
        "dataset.columns.",
    )


def to_datetime(
    canonical: str,
    source: str,
    dtype: pl.DataType,
    formats: Sequence[str],
    explicit: bool,
    careful: bool = True,
) -> Converted:
    """Dates as Datetime("us"), time zones dropped (wall-clock time kept).

    ``careful=False`` parses the text as it is (no trimming, no spellings of "missing"): the
    fast path, whose ``bad`` rows (or, with one pattern, a strict parse that raises) send a
    reader back to the careful one before any error.
    """
    value = pl.col(source)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            value = value.dt.replace_time_zone(None)
        return Converted(canonical, source, value.cast(pl.Datetime(TIME_UNIT)))
    if dtype == pl.Date:
        return Converted(canonical, source, value.cast(pl.Datetime(TIME_UNIT)))
    raw = text(source) if careful else value.cast(pl.String)
    if not careful and len(formats) == 1:
        # One pattern: a strict parse is the check (a value it cannot parse raises, and the
        # reader reads again on the careful path, whose check names the values).
        date = raw.str.to_datetime(formats[0], strict=True, time_unit=TIME_UNIT)
        return Converted(canonical, source, date)
    parsed = [raw.str.to_datetime(f, strict=False, time_unit=TIME_UNIT) for f in formats]
    date = parsed[0] if len(parsed) == 1 else pl.coalesce(parsed)
    expected = f"the format {formats[0]!r}" if explicit else _styles_text(formats)
    return Converted(
        canonical,
        source,
        date,
        bad=raw.is_not_null() & date.is_null(),
        fallback=not careful,
        problem=f"value(s) that are not dates in {expected}",
        fix="Give the format explicitly, e.g. dataset.date_format=%d/%m/%Y (strftime codes), "
        "or fix the values.",
    )


def _styles_text(formats: Sequence[str]) -> str:
    styles = [name for name, family in DATE_STYLES.items() if set(formats) & set(family)]
    return " or ".join(f"{name} style (like {_STYLE_EXAMPLES[name]!r})" for name in styles)


# --------------------------------------------------------------------------------------------
# Date styles
# --------------------------------------------------------------------------------------------


def date_formats(sample: Sequence[str | None], date_format: str | None) -> tuple[str, ...]:
    """The patterns to parse a date column with, chosen from a sample of its values.

    An explicit ``date_format`` is used alone. Otherwise the first style whose patterns parse
    every sampled value wins, with only the patterns the sample needs (first the most common);
    for a sample no single style covers, the style most of its values are in, so that the full
    read reports the values in another style (see ``describe_bad_dates``).
    """
    if date_format:
        return (date_format,)
    values = pl.Series([v for v in sample if v is not None], dtype=pl.String).str.strip_chars()
    values = values.filter(~values.is_in(NULL_STRINGS))
    if values.is_empty():
        return ISO_FORMATS
    for family in DATE_STYLES.values():
        used = _patterns_needed(values, family)
        if used is not None:
            return used
    # No one style covers the sample: the style most of it is in, so that the full read names
    # the values of the other style (a column mixing styles is refused wherever the mix starts).
    return max(DATE_STYLES.values(), key=lambda family: _parsed_by(values, family))


def _parsed_by(values: pl.Series, family: Sequence[str]) -> int:
    parsed = [values.str.to_datetime(f, strict=False, time_unit=TIME_UNIT) for f in family]
    return int(pl.select(pl.coalesce(parsed)).to_series().is_not_null().sum())


def _patterns_needed(values: pl.Series, family: Sequence[str]) -> tuple[str, ...] | None:
    left, used = values, []
    for pattern in family:
        parsed = left.str.to_datetime(pattern, strict=False, time_unit=TIME_UNIT)
        if parsed.is_not_null().any():
            used.append(pattern)
            left = left.filter(parsed.is_null())
        if left.is_empty():
            return tuple(used)
    return None


def describe_bad_dates(values: Sequence[str]) -> str:
    """Which date styles the failing values are in, for the error message."""
    frame = pl.DataFrame({"v": list(values)}, schema={"v": pl.String})
    value = pl.col("v").str.strip_chars()
    counts = {}
    for name, family in DATE_STYLES.items():
        parsed = pl.coalesce(
            [value.str.to_datetime(f, strict=False, time_unit=TIME_UNIT) for f in family]
        )
        counts[name] = frame.select(parsed.is_not_null().sum()).item()
    return ", ".join(f"{n} in {name} style" for name, n in counts.items() if n)


# --------------------------------------------------------------------------------------------
# Date options
# --------------------------------------------------------------------------------------------

_DATE_OPTION = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")


def parse_date_option(value, option: str = "snapshot_date"):
    """A date option (``snapshot_date``, ``before``, ``after``) as a ``pd.Timestamp``, or None.

    Accepts None or an empty value (the option's default rule), a date or datetime, or ISO
    text: ``2011-12-10``, ``2011-12-10 08:00`` or ``2011-12-10T08:00:00``. Anything else
    (``yesterday``, ``2024-13-45``, ``12/10/2011``) is a ``SegmentationError`` naming the option.
    Call it at start-up, before any data is read.
    """
    import datetime as dt

    import pandas as pd

    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
        return None
    if isinstance(value, pd.Timestamp):
        return value
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    text = str(value).strip()
    problem = "it is not written YYYY-MM-DD"
    if _DATE_OPTION.fullmatch(text):
        try:
            return pd.Timestamp(dt.datetime.fromisoformat(text))
        except ValueError as exc:
            problem = f"it is not a calendar date ({exc})"
    raise SegmentationError(
        f"{option}={text!r} is not a date: {problem}. Write it as YYYY-MM-DD (optionally with a "
        f"time, YYYY-MM-DD HH:MM), e.g. {option}=2011-12-10, or leave it null."
    )

"""Column mapping and value conversion: source columns to canonical names and dtypes.

Every conversion error is a ``SegmentationError`` that names the file, the column and a few
bad values, and says how to fix them:

- ids become ``str``: float-looking ids such as ``"17850.0"`` become ``"17850"``, surrounding
  spaces are trimmed and the usual spellings of "missing" (``""``, ``NA``, ``null``, ...)
  become missing;
- numbers become ``float64`` (``'.'`` as decimal point, no currency signs);
- dates become ``datetime64``; ``date_format`` (a strftime pattern such as ``"%Y%m%d"``)
  applies to every date column of a file, ``None`` accepts ISO dates or month-first ones like
  ``"12/1/2010 8:26"``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from src.errors import SegmentationError

NULL_STRINGS = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "<NA>"]
_N_EXAMPLES = 5


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
    path: Path,
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


def check_columns_exist(mapping: Mapping[str, str], found: list[str], path: Path) -> None:
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


def normalise_ids(values: pd.Series) -> pd.Series:
    """Ids as ``str``: ``17850.0`` -> ``"17850"``, blanks -> missing.

    Works on the distinct values only, so it costs one factorize on a large log.
    """
    codes, labels = id_codes(values)
    result = pd.array(labels, dtype="str").take(codes, allow_fill=True)
    return pd.Series(result, index=values.index, dtype="str", name=values.name)


def id_codes(values: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Codes of each value (-1: missing) and the id rule applied to the distinct values."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if (finite == np.floor(finite)).all():
            values = values.astype("Int64")
    codes, uniques = pd.factorize(values)
    return codes, clean_id_labels(pa.array(pd.Index(uniques).astype("str")))


def clean_id_labels(labels: pa.Array) -> pa.Array:
    """The id rule on distinct values: trim, ``17850.0`` -> ``17850``, blank -> missing."""
    labels = pc.utf8_trim_whitespace(labels.cast(pa.string()))
    if pc.any(pc.match_substring(labels, ".")).as_py():  # a plain search is 10x cheaper
        labels = pc.replace_substring_regex(labels, r"\.0+$", "")
    blank = pc.is_in(labels, value_set=pa.array(NULL_STRINGS))
    return pc.if_else(blank, pa.scalar(None, pa.string()), labels)


def to_text(values: pd.Series) -> pd.Series:
    if values.dtype != "str":
        values = values.astype("str").where(values.notna())
    return values.where(values != "")


def _blank_to_missing(values: pd.Series) -> pd.Series:
    """Stripped text with the usual spellings of "missing" turned into missing values."""
    text = values.astype("str").str.strip()
    return text.where(values.notna() & ~text.isin(NULL_STRINGS))


def to_float(values: pd.Series, where: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = _blank_to_missing(values)
    converted = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = text[text.notna() & converted.isna()]
    if len(bad):
        raise SegmentationError(
            f"{where} has {len(bad)} non-numeric value(s), e.g. {examples(bad)}. "
            "Numbers must use '.' as decimal point and no currency signs or thousands "
            "separators; fix the values or map this role to another column under "
            "dataset.columns."
        )
    return converted


def to_datetime(values: pd.Series, date_format: str | None, where: str) -> pd.Series:
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
        f"{examples(bad)}. Give the format explicitly, e.g. dataset.date_format=%d/%m/%Y "
        "(strftime codes), or fix the values."
    )


def examples(values: Iterable) -> str:
    unique = list(dict.fromkeys(map(str, values)))
    return ", ".join(repr(v) for v in unique[:_N_EXAMPLES])


def listing(names: Iterable[str]) -> str:
    return ", ".join(map(str, names))

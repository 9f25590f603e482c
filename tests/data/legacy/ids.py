"""Customer and invoice ids as pandas categoricals with sorted ``str`` categories.

A log repeats every id on many lines (the UCI file has 541,909 lines, 4,372 customers and
25,900 invoices), so the canonical id columns store each label once and the lines as integer
codes. Cleaning and the per-customer group-by then compare integers instead of hashing
strings, and the id columns take about a fifth of the memory of ``str`` ones (figures in
``benchmarks/README.md``). Categories are sorted so
that group-bys and reports list customers in the same order as a ``str`` column would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_ids(values: pd.Series) -> pd.Series:
    """``values`` (text labels, missing allowed) as a categorical with sorted categories."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values
    codes, labels = pd.factorize(values, sort=True)
    return from_codes(codes, labels, index=values.index, name=values.name)


def from_positions(labels, positions: np.ndarray) -> pd.Series:
    """Ids of lines that point into a table of ``labels`` (``-1``: missing id).

    ``labels`` may repeat or be missing; the result's categories are their sorted distinct
    values, and only the labels (not the lines) are hashed and sorted.
    """
    label_codes, distinct = pd.factorize(pd.array(labels, dtype="str"), sort=True)
    lookup = np.append(label_codes, -1).astype(np.int32)
    return from_codes(lookup[positions], distinct)


def from_codes(
    codes: np.ndarray,
    labels,
    index: pd.Index | None = None,
    name: str | None = None,
) -> pd.Series:
    """A categorical id column from codes into distinct, sorted ``labels`` (-1 = missing)."""
    categories = pd.Index(labels)
    if categories.dtype != "str":
        categories = categories.astype("str")
    dtype = pd.CategoricalDtype(categories)
    values = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    return pd.Series(values, index=index, name=name, copy=False)


def compact(values: pd.Series) -> pd.Series:
    """Drop the categories no line uses any more (e.g. customers removed by cleaning).

    Same result as ``Series.cat.remove_unused_categories``, which takes several times longer
    on a 400k-line log because it factorises the codes again.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values
    categories = values.cat.categories
    codes = values.cat.codes.to_numpy()
    used = np.zeros(len(categories) + 1, dtype=bool)
    used[codes] = True  # missing codes (-1) mark the extra last slot
    used = used[:-1]
    if used.all():
        return values
    lookup = np.append(np.cumsum(used, dtype=codes.dtype) - 1, -1).astype(codes.dtype)
    return from_codes(lookup[codes], categories[used], index=values.index, name=values.name)


def codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of each line (``-1``: missing) and the labels they point to.

    A categorical gives its own codes at no cost; other columns are factorised (sorted).
    Labels may include values no line uses.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    line_codes, labels = pd.factorize(values, sort=True)
    return line_codes, pd.Index(labels)


def starts_with(values: pd.Series, prefix: str) -> np.ndarray:
    """Which lines' ids start with ``prefix`` (missing ids: no), testing each label once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        hits = np.asarray(values.cat.categories.str.startswith(prefix), dtype=bool)
        return np.append(hits, False)[values.cat.codes.to_numpy()]
    return values.str.startswith(prefix).fillna(False).to_numpy(bool)

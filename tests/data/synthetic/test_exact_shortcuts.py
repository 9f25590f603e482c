"""The generator's shortcuts give exactly what the numpy calls they stand for give, so the log
of a seed does not depend on which of the two computed it."""

from __future__ import annotations

import numpy as np
import pytest

from src.data.synthetic.generate import (
    _count_at_most,
    _Lines,
    _repeated_in_order,
    _stable_order_after,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12)


@pytest.mark.parametrize("per_edge", [1, 2, 16])
def test_guided_search_equals_searchsorted_with_ties_and_boundaries(rng, per_edge) -> None:
    weight = rng.random(400) * (rng.random(400) < 0.7)  # zero weights give repeated edges
    edges = np.cumsum(weight)
    values = np.concatenate(
        [rng.random(50_000) * edges[-1], edges, np.nextafter(edges, 0), [0.0, edges[-1]]]
    )
    found = _count_at_most(edges, values, per_edge)
    np.testing.assert_array_equal(found, np.searchsorted(edges, values, side="right"))


def test_guided_search_equals_searchsorted_on_shifted_product_cdfs(rng) -> None:
    """The inverse-CDF draw of products: one CDF per group, shifted into (g, g + 1]."""
    cdf = np.cumsum(rng.dirichlet(np.full(300, 0.3), size=14), axis=1)
    cdf[:, -1] = 1.0
    shifted = (cdf + np.arange(14)[:, None]).ravel()
    values = rng.integers(0, 14, 100_000) + rng.random(100_000)
    found = _count_at_most(shifted, values)
    np.testing.assert_array_equal(found, np.searchsorted(shifted, values, side="right"))


def test_stable_order_after_a_sorted_head_equals_a_stable_argsort(rng) -> None:
    head = np.sort(rng.integers(0, 500, 20_000))
    tail = rng.integers(0, 520, 3_000)  # equal to head keys often, and beyond them
    key = np.concatenate([head, tail])
    order = _stable_order_after(key, len(head))
    np.testing.assert_array_equal(order, np.argsort(key, kind="stable"))


def test_stable_order_after_an_unsorted_head_still_sorts_stably(rng) -> None:
    key = rng.integers(0, 50, 5_000)
    order = _stable_order_after(key, 4_000)
    np.testing.assert_array_equal(order, np.argsort(key, kind="stable"))


def test_repeats_within_an_order_match_a_sort_of_all_keys(rng) -> None:
    n_lines = 1 + rng.negative_binomial(2.0, 0.4, 5_000)
    order = np.repeat(np.arange(len(n_lines)), n_lines)
    key = order * 8 + rng.integers(0, 8, len(order))  # 8 products: many repeats
    by_key = np.argsort(key, kind="stable")
    expected = np.zeros(len(key), dtype=bool)
    expected[by_key[1:][key[by_key[1:]] == key[by_key[:-1]]]] = True
    np.testing.assert_array_equal(_repeated_in_order(key, order, n_lines), expected)


def test_take_from_parts_equals_take_from_their_concatenation(rng) -> None:
    def lines(n: int) -> _Lines:
        return _Lines(
            order=rng.integers(0, 100, n),
            product=rng.integers(0, 10, n).astype(np.int32),
            quantity=rng.random(n),
            price=rng.random(n),
        )

    parts = [lines(300), lines(0), lines(40)]
    idx = rng.integers(0, 340, 1_000)
    taken, expected = _Lines.take_stacked(parts, idx), _Lines.concat(parts).take(idx)
    for name in ("order", "product", "quantity", "price"):
        np.testing.assert_array_equal(getattr(taken, name), getattr(expected, name))
        assert getattr(taken, name).dtype == getattr(expected, name).dtype

"""Actions and product picks per segment.

``playbook_actions`` ties every named segment to the marketing actions in the insight config.
``segment_top_products`` finds what each segment buys more than everyone else, and
``customer_recommendations`` turns that into a per-customer list of popular products in the
customer's segment that the customer has not bought yet.

Definitions (products = stock codes, counted once per customer however often bought):
    customer_share   = segment customers who bought the product / segment customers
    population_share = all customers who bought it / all customers
    lift             = customer_share / population_share (above 1: the segment over-indexes)
    revenue          = the segment's total ``amount`` on the product
Customers in ``segments`` without purchases count in the denominators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from src.columns import (
    AMOUNT,
    CUSTOMER_ID,
    DESCRIPTION,
    SEGMENT_ID,
    SEGMENT_NAME,
    STOCK_CODE,
    require,
)
from src.data.cleaning import purchase_mask
from src.errors import SegmentationError
from src.insight.naming import base_name, section

SEGMENT = "segment"
_WHERE = "the insight config (conf/insight/default.yaml)"


class NoProductData(SegmentationError):
    """Product picks were requested but the data has no transaction log with product codes."""


def playbook_actions(segment_names: Mapping[Any, str], playbook_cfg: Mapping) -> pd.DataFrame:
    """Index segment_id: segment_name, actions ("; "-joined) and the playbook entry used.

    A segment is looked up by its exact name, then by its base name (qualifier for duplicates
    stripped), both case-insensitively, and falls back to the ``default`` entry.
    """
    playbook = _parse_playbook(playbook_cfg)
    lookup = {key.casefold(): key for key in playbook}
    rows = {}
    for seg, name in segment_names.items():
        key = next(
            (lookup[c.casefold()] for c in (name, base_name(name)) if c.casefold() in lookup),
            "default" if "default" in playbook else None,
        )
        actions = playbook.get(key, []) if key is not None else []
        rows[seg] = {SEGMENT_NAME: name, "actions": "; ".join(actions), "playbook_entry": key}
    out = pd.DataFrame.from_dict(
        rows, orient="index", columns=[SEGMENT_NAME, "actions", "playbook_entry"]
    )
    out.index.name = SEGMENT_ID
    return out


def _parse_playbook(cfg: Mapping) -> dict[str, list[str]]:
    playbook = section(cfg, "playbook")
    parsed = {}
    for key, actions in playbook.items():
        if isinstance(actions, str):
            actions = [actions]
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise SegmentationError(
                f"playbook entry {key!r} in {_WHERE} must be a list of action texts, "
                f"got {actions!r}."
            )
        parsed[str(key)] = [a.strip() for a in actions if a.strip()]
    return parsed


@dataclass
class _Lines:
    """Purchase lines of segmented customers as integer codes (fast groupby via bincount)."""

    customers: pd.Index  # segmented customer ids; line ``cust`` codes index into it
    cust_segment: np.ndarray  # segment code per customer
    segments: pd.Index  # segment values; segment codes index into it
    cust: np.ndarray  # customer code per line
    prod: np.ndarray  # product code per line
    products: pd.Index  # stock codes; product codes index into it
    amount: np.ndarray | None
    desc: np.ndarray | None  # description code per line (-1: missing), alphabetical codes
    descriptions: pd.Index | None

    def bought_keys(self) -> np.ndarray:
        """Sorted unique (customer, product) keys."""
        keys = np.sort(self.cust.astype(np.int64) * max(len(self.products), 1) + self.prod)
        return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys

    def describe(self, prod_codes: np.ndarray) -> np.ndarray:
        """Most common description of each product (ties: alphabetical), for display."""
        if self.desc is None or self.descriptions is None:
            return np.full(len(prod_codes), None, dtype=object)
        wanted = np.isin(self.prod, prod_codes) & (self.desc >= 0)
        counts = (
            pd.DataFrame({"prod": self.prod[wanted], "desc": self.desc[wanted]})
            .value_counts()
            .rename("n")
            .reset_index()
            .sort_values(["prod", "n", "desc"], ascending=[True, False, True], kind="stable")
            .drop_duplicates("prod")
            .set_index("prod")["desc"]
            .reindex(prod_codes, fill_value=-1)
            .to_numpy()
        )
        names = self.descriptions.to_numpy(dtype=object)
        return np.where(counts >= 0, names[np.maximum(counts, 0)], None)


def _encode(tx: pd.DataFrame | None, segments: pd.Series) -> _Lines:
    if tx is None or STOCK_CODE not in tx.columns or CUSTOMER_ID not in tx.columns:
        raise NoProductData(
            "Product recommendations need a transaction log with customer_id and stock_code "
            "columns; this dataset "
            + ("has no transaction log" if tx is None else "has no stock_code column")
            + ". Use a transactions dataset with a product column mapped to stock_code, or skip "
            "product picks."
        )
    if isinstance(tx, pl.DataFrame):
        tx = tx.with_columns(_purchase=purchase_mask(tx)).to_pandas()
    else:
        frame = pl.from_pandas(tx).with_columns(_purchase=purchase_mask(tx))
        tx = tx.assign(_purchase=frame["_purchase"].to_numpy())
    segments = segments.dropna()
    if not segments.index.is_unique:
        raise SegmentationError(
            "segments must map each customer_id to one segment, but its index has duplicated "
            "customer ids."
        )
    seg_codes, seg_values = pd.factorize(segments, sort=True)
    # Look customers up once per distinct id, not once per line.
    tx_cust, tx_ids = pd.factorize(tx[CUSTOMER_ID])
    cust = np.append(segments.index.get_indexer(tx_ids), -1)[tx_cust]
    keep = (cust >= 0) & tx[STOCK_CODE].notna().to_numpy() & tx["_purchase"].to_numpy()
    prod, products = pd.factorize(tx[STOCK_CODE][keep])
    desc, descriptions = (
        pd.factorize(tx[DESCRIPTION][keep], sort=True)
        if DESCRIPTION in tx.columns
        else (None, None)
    )
    return _Lines(
        customers=segments.index,
        cust_segment=seg_codes,
        segments=pd.Index(seg_values),
        cust=cust[keep],
        prod=prod,
        products=pd.Index(products),
        amount=tx[AMOUNT].to_numpy(float)[keep] if AMOUNT in tx.columns else None,
        desc=desc,
        descriptions=pd.Index(descriptions) if descriptions is not None else None,
    )


def _top_products(lines: _Lines, top_n: int, min_support: float) -> pd.DataFrame:
    n_prod, n_seg = max(len(lines.products), 1), len(lines.segments)
    pair_keys = lines.bought_keys()
    pair_cust, pair_prod = pair_keys // n_prod, pair_keys % n_prod
    cell = lines.cust_segment[pair_cust] * n_prod + pair_prod
    buyers = np.bincount(cell, minlength=n_seg * n_prod)
    pop_buyers = np.bincount(pair_prod, minlength=n_prod)
    seg_size = np.bincount(lines.cust_segment, minlength=n_seg)
    if lines.amount is not None:
        line_cell = lines.cust_segment[lines.cust] * n_prod + lines.prod
        revenue = np.bincount(line_cell, weights=lines.amount, minlength=n_seg * n_prod)
    else:
        revenue = np.full(n_seg * n_prod, np.nan)

    cells = np.flatnonzero(buyers)
    seg, prod = cells // n_prod, cells % n_prod
    share = buyers[cells] / seg_size[seg]
    pop_share = pop_buyers[prod] / len(lines.customers)
    lift = share / pop_share
    keep = share >= min_support
    cells, seg, prod, share, pop_share, lift = (
        a[keep] for a in (cells, seg, prod, share, pop_share, lift)
    )
    stock = lines.products.to_numpy()[prod]
    # Rank within segment: customer share, then lift, revenue, stock code.
    rev = revenue[cells]
    order = np.lexsort(
        (pd.factorize(stock, sort=True)[0], -np.nan_to_num(rev, nan=-np.inf), -lift, -share, seg)
    )
    seg, prod, share, pop_share, lift, rev, cells = (
        a[order] for a in (seg, prod, share, pop_share, lift, rev, cells)
    )
    rank = np.arange(len(seg)) - np.searchsorted(seg, seg) + 1
    top = rank <= top_n
    seg, prod, share, pop_share, lift, rev, cells, rank = (
        a[top] for a in (seg, prod, share, pop_share, lift, rev, cells, rank)
    )
    return pd.DataFrame(
        {
            SEGMENT: lines.segments.to_numpy()[seg],
            "rank": rank,
            STOCK_CODE: lines.products.to_numpy()[prod],
            DESCRIPTION: lines.describe(prod),
            "buyers": buyers[cells],
            "customer_share": share,
            "population_share": pop_share,
            "lift": lift,
            "revenue": rev,
        }
    )


def segment_top_products(
    tx: pd.DataFrame | None,
    segments: pd.Series,
    top_n: int = 10,
    min_support: float = 0.02,
) -> pd.DataFrame:
    """Each segment's products ranked by the share of its customers who bought them.

    ``segments`` maps customer_id (index) to a segment name or id. Products bought by fewer than
    ``min_support`` of the segment's customers are left out. Ties in customer share are broken
    by lift, then revenue, then stock code. Columns: segment, rank, stock_code, description,
    buyers, customer_share, population_share, lift, revenue.
    """
    return _top_products(_encode(tx, segments), top_n, min_support)


def customer_recommendations(
    tx: pd.DataFrame | None,
    segments: pd.Series,
    top_n: int = 5,
    candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per customer: the segment's most popular products they have not bought yet.

    ``candidates`` is a :func:`segment_top_products` table (segment, rank, stock_code,
    customer_share); by default each segment's ``max(4 * top_n, 20)`` most popular products.
    ``score`` is the product's customer_share in the segment (the chance a segment customer
    buys it). Customers without purchases get the segment's top products. Rows follow the order
    of ``segments``, then rank. Columns: customer_id, segment, rank, stock_code, description,
    score.
    """
    lines = _encode(tx, segments)
    if candidates is None:
        candidates = _top_products(lines, top_n=max(4 * top_n, 20), min_support=0.0)
    require(
        candidates,
        (SEGMENT, "rank", STOCK_CODE, "customer_share"),
        "the candidates table of customer_recommendations (as segment_top_products returns)",
    )
    cand = (
        candidates.sort_values([SEGMENT, "rank"], kind="stable")
        .drop_duplicates([SEGMENT, STOCK_CODE])
        .reset_index(drop=True)
    )
    # Pair every customer with its segment's block of candidates, in rank order.
    cand_seg = lines.segments.get_indexer(cand[SEGMENT])
    cand = cand[cand_seg >= 0].reset_index(drop=True)
    cand_seg = cand_seg[cand_seg >= 0]
    order = np.argsort(cand_seg, kind="stable")
    cand, cand_seg = cand.iloc[order].reset_index(drop=True), cand_seg[order]
    block_len = np.bincount(cand_seg, minlength=len(lines.segments))
    block_start = np.cumsum(block_len) - block_len
    per_cust = block_len[lines.cust_segment]
    cust_idx = np.repeat(np.arange(len(lines.customers)), per_cust)
    offset = np.arange(len(cust_idx)) - np.repeat(np.cumsum(per_cust) - per_cust, per_cust)
    cand_idx = block_start[lines.cust_segment[cust_idx]] + offset

    # Anti-join on already bought (customer, product) pairs via one int64 key.
    n_prod = max(len(lines.products), 1)
    cand_prod = lines.products.get_indexer(cand[STOCK_CODE])[cand_idx]
    keys = cust_idx.astype(np.int64) * n_prod + cand_prod
    bought = lines.bought_keys()
    already = np.zeros(len(keys), dtype=bool)
    if len(bought):
        pos = np.minimum(np.searchsorted(bought, keys), len(bought) - 1)
        already = (cand_prod >= 0) & (bought[pos] == keys)
    cust_idx, cand_idx = cust_idx[~already], cand_idx[~already]

    rank = np.arange(len(cust_idx)) - np.searchsorted(cust_idx, cust_idx) + 1
    top = rank <= top_n
    cust_idx, cand_idx, rank = cust_idx[top], cand_idx[top], rank[top]
    picked = cand.iloc[cand_idx]
    if DESCRIPTION in picked.columns:
        description = picked[DESCRIPTION].to_numpy()
    else:
        description = lines.describe(lines.products.get_indexer(picked[STOCK_CODE]))
    return pd.DataFrame(
        {
            CUSTOMER_ID: lines.customers.to_numpy()[cust_idx],
            SEGMENT: lines.segments.to_numpy()[lines.cust_segment[cust_idx]],
            "rank": rank,
            STOCK_CODE: picked[STOCK_CODE].to_numpy(),
            DESCRIPTION: description,
            "score": picked["customer_share"].to_numpy(float),
        }
    )

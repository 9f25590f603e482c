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
from typing import Any

import numpy as np
import pandas as pd

from src.errors import SegmentationError
from src.insight.naming import base_name, section
from src.schema import (
    AMOUNT,
    CUSTOMER_ID,
    DESCRIPTION,
    IS_RETURN,
    QUANTITY,
    SEGMENT_ID,
    SEGMENT_NAME,
    STOCK_CODE,
)

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


def _purchases(tx: pd.DataFrame | None, segments: pd.Series) -> pd.DataFrame:
    """Positive purchase lines of segmented customers, with their segment attached."""
    if tx is None or STOCK_CODE not in tx.columns or CUSTOMER_ID not in tx.columns:
        raise NoProductData(
            "Product recommendations need a transaction log with customer_id and stock_code "
            "columns; this dataset "
            + ("has no transaction log" if tx is None else "has no stock_code column")
            + ". Use a transactions dataset with a product column mapped to stock_code, or skip "
            "product picks."
        )
    keep = tx[CUSTOMER_ID].isin(segments.index)
    if QUANTITY in tx.columns:
        keep &= tx[QUANTITY] > 0
    if IS_RETURN in tx.columns:
        keep &= ~tx[IS_RETURN].fillna(False).astype(bool)
    keep &= tx[STOCK_CODE].notna()
    cols = [c for c in (CUSTOMER_ID, STOCK_CODE, DESCRIPTION, AMOUNT) if c in tx.columns]
    lines = tx.loc[keep, cols]
    return lines.assign(**{SEGMENT: lines[CUSTOMER_ID].map(segments)})


def _clean_segments(segments: pd.Series) -> pd.Series:
    segments = segments.dropna()
    if not segments.index.is_unique:
        raise SegmentationError(
            "segments must map each customer_id to one segment, but its index has duplicated "
            "customer ids."
        )
    return segments


def _descriptions(lines: pd.DataFrame) -> pd.Series:
    """Most common description per stock code (ties: alphabetical), for display."""
    if DESCRIPTION not in lines.columns:
        return pd.Series(dtype="str", name=DESCRIPTION)
    counts = lines.groupby([STOCK_CODE, DESCRIPTION], observed=True).size().rename("n")
    counts = counts.reset_index().sort_values(
        [STOCK_CODE, "n", DESCRIPTION], ascending=[True, False, True], kind="stable"
    )
    return counts.drop_duplicates(STOCK_CODE).set_index(STOCK_CODE)[DESCRIPTION]


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
    segments = _clean_segments(segments)
    lines = _purchases(tx, segments)
    pairs = lines.drop_duplicates([CUSTOMER_ID, STOCK_CODE])[[SEGMENT, STOCK_CODE]]
    seg_size = segments.value_counts()
    table = pairs.groupby([SEGMENT, STOCK_CODE], observed=True).size().rename("buyers").to_frame()
    if AMOUNT in lines.columns:
        table = table.join(lines.groupby([SEGMENT, STOCK_CODE], observed=True)[AMOUNT].sum())
    table = table.rename(columns={AMOUNT: "revenue"}).reset_index()
    if "revenue" not in table.columns:
        table["revenue"] = np.nan
    pop_buyers = pairs.groupby(STOCK_CODE, observed=True).size()
    table["customer_share"] = table["buyers"] / table[SEGMENT].map(seg_size).to_numpy(float)
    table["population_share"] = table[STOCK_CODE].map(pop_buyers).to_numpy(float) / len(segments)
    table["lift"] = table["customer_share"] / table["population_share"]
    table = table[table["customer_share"] >= min_support]
    table = table.sort_values(
        [SEGMENT, "customer_share", "lift", "revenue", STOCK_CODE],
        ascending=[True, False, False, False, True],
        kind="stable",
        na_position="last",
    )
    table["rank"] = table.groupby(SEGMENT, observed=True).cumcount() + 1
    table = table[table["rank"] <= top_n]
    table[DESCRIPTION] = table[STOCK_CODE].map(_descriptions(lines))
    columns = [
        SEGMENT,
        "rank",
        STOCK_CODE,
        DESCRIPTION,
        "buyers",
        "customer_share",
        "population_share",
        "lift",
        "revenue",
    ]
    return table[columns].reset_index(drop=True)


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
    segments = _clean_segments(segments)
    lines = _purchases(tx, segments)
    if candidates is None:
        candidates = segment_top_products(tx, segments, top_n=max(4 * top_n, 20), min_support=0.0)
    needed = [SEGMENT, "rank", STOCK_CODE, "customer_share"]
    missing = [c for c in needed if c not in candidates.columns]
    if missing:
        raise SegmentationError(
            f"customer_recommendations needs a candidates table with columns "
            f"{', '.join(needed)} (as segment_top_products returns); it lacks "
            f"{', '.join(missing)}."
        )
    cand = (
        candidates.sort_values([SEGMENT, "rank"], kind="stable")
        .drop_duplicates([SEGMENT, STOCK_CODE])
        .reset_index(drop=True)
    )

    # Work on integer codes: every customer is paired with its segment's candidate block.
    seg_codes, seg_uniques = pd.factorize(pd.concat([cand[SEGMENT], segments], ignore_index=True))
    cand_seg = seg_codes[: len(cand)]
    cust_seg = seg_codes[len(cand) :]
    n_segs = len(seg_uniques)
    block_len = np.bincount(cand_seg, minlength=n_segs)
    block_start = np.concatenate([[0], np.cumsum(block_len)[:-1]])
    per_cust = block_len[cust_seg]
    cust_idx = np.repeat(np.arange(len(segments)), per_cust)
    row_start = np.repeat(np.cumsum(per_cust) - per_cust, per_cust)
    cand_idx = block_start[cust_seg][cust_idx] + (np.arange(len(cust_idx)) - row_start)

    # Anti-join on already bought (customer, product) pairs via one int64 key.
    prod_codes, prod_uniques = pd.factorize(cand[STOCK_CODE])
    n_prod = max(len(prod_uniques), 1)
    bought_cust = segments.index.get_indexer(lines[CUSTOMER_ID])
    bought_prod = prod_uniques.get_indexer(lines[STOCK_CODE])
    known = bought_prod >= 0
    bought_keys = bought_cust[known].astype(np.int64) * n_prod + bought_prod[known]
    keys = cust_idx.astype(np.int64) * n_prod + prod_codes[cand_idx]
    fresh = ~np.isin(keys, bought_keys)
    cust_idx, cand_idx = cust_idx[fresh], cand_idx[fresh]

    rank = pd.Series(cust_idx).groupby(cust_idx).cumcount().to_numpy() + 1
    keep = rank <= top_n
    cust_idx, cand_idx, rank = cust_idx[keep], cand_idx[keep], rank[keep]
    picked = cand.iloc[cand_idx]
    if DESCRIPTION in picked.columns:
        description = picked[DESCRIPTION].to_numpy()
    else:
        description = picked[STOCK_CODE].map(_descriptions(lines)).to_numpy()
    return pd.DataFrame(
        {
            CUSTOMER_ID: segments.index.to_numpy()[cust_idx],
            SEGMENT: segments.to_numpy()[cust_idx],
            "rank": rank,
            STOCK_CODE: picked[STOCK_CODE].to_numpy(),
            DESCRIPTION: description,
            "score": picked["customer_share"].to_numpy(float),
        }
    )


"""Actions and product picks per segment.

``playbook_actions`` ties every named segment to the marketing actions in the insight config.
``segment_top_products`` finds what each segment buys more than everyone else (ranked by lift,
among products enough of the segment buys), ``popular_overall`` what everyone buys most, so the
report can show a segment's picks beside plain popularity, and ``customer_recommendations``
turns the picks into a per-customer list of products the customer has not bought yet.

Definitions (products = stock codes, counted once per customer however often bought):
    customer_share   = segment customers who bought the product / segment customers
    population_share = all customers who bought it / all customers
    lift             = customer_share / population_share (above 1: the segment over-indexes)
    revenue          = the segment's total ``amount`` on the product
Customers in ``segments`` without purchases count in the denominators.

The log is a polars DataFrame and the counting is polars joins and group-bys; ``segments`` (a
pandas Series indexed by customer id) and the returned tables are pandas.
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
from src.insight.eda import as_log, most_common_description
from src.insight.naming import base_name, section

SEGMENT = "segment"
_WHERE = "the insight config (conf/insight/default.yaml)"


class NoProductData(SegmentationError):
    """Product picks were requested but the data has no transaction log with product codes."""


def playbook_actions(segment_names: Mapping[Any, str], playbook_cfg: Mapping) -> pd.DataFrame:
    """Index segment_id: segment_name, actions (a tuple of texts) and the playbook entry used.

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
        rows[seg] = {SEGMENT_NAME: name, "actions": tuple(actions), "playbook_entry": key}
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
class ProductLines:
    """The purchase lines of segmented customers reduced to what product picks count, built
    once (:func:`product_lines`) and shared by the three product tables.

    Every table is computed from three aggregates of the log, collected together (one pass over
    the lines and one join to the segments): ``bought``, the distinct (customer, segment,
    product) triples; ``revenue``, the ``amount`` per (segment, product), or None when the log
    has no amount; ``names``, each product's most common description, or None.
    """

    customers: pd.Index  # segmented customer ids, in the order of ``segments``
    cust_segment: np.ndarray  # segment code per customer
    segments: pd.Index  # segment values; segment codes index into it
    bought: pl.DataFrame  # cust, seg, stock_code (distinct)
    revenue: pl.DataFrame | None  # seg, stock_code, revenue
    names: pl.DataFrame | None  # stock_code, description


def product_lines(tx: pl.DataFrame | ProductLines | None, segments: pd.Series) -> ProductLines:
    """The purchase lines of ``tx`` (a cleaned log; returns are left out) for the customers of
    ``segments`` (customer_id -> segment), reduced to :class:`ProductLines`. Given a
    ``ProductLines`` already, returns it."""
    if isinstance(tx, ProductLines):
        return tx
    tx = None if tx is None else as_log(tx)
    if tx is None or STOCK_CODE not in tx.columns or CUSTOMER_ID not in tx.columns:
        raise NoProductData(
            "Product recommendations need a transaction log with customer_id and stock_code "
            "columns; this dataset "
            + ("has no transaction log" if tx is None else "has no stock_code column")
            + ". Use a transactions dataset with a product column mapped to stock_code, or skip "
            "product picks."
        )
    segments = segments.dropna()
    if not segments.index.is_unique:
        raise SegmentationError(
            "segments must map each customer_id to one segment, but its index has duplicated "
            "customer ids."
        )
    seg_codes, seg_values = pd.factorize(segments, sort=True)
    customers = pl.DataFrame(
        {
            CUSTOMER_ID: pd.Index(segments.index).astype("str").to_numpy(),
            "cust": np.arange(len(segments), dtype=np.uint32),
            "seg": seg_codes.astype(np.uint32),
        }
    )
    present = tx.columns
    kept = [CUSTOMER_ID, STOCK_CODE] + [c for c in (AMOUNT, DESCRIPTION) if c in present]
    # Text stock codes as a Categorical: a (customer, product) pair held in ``bought`` (14M of
    # them at 1M customers) is three 4-byte codes instead of two codes and a string.
    codes = pl.col(STOCK_CODE)
    if tx.schema[STOCK_CODE] == pl.String:
        codes = codes.cast(pl.Categorical)
    lines = (
        tx.lazy()
        .filter(purchase_mask(tx) & pl.col(STOCK_CODE).is_not_null())
        .select(kept)
        .join(customers.lazy(), on=CUSTOMER_ID, how="inner")
        .drop(CUSTOMER_ID)
        .with_columns(codes)
    )
    queries = [lines.select("cust", "seg", STOCK_CODE).unique()]
    if AMOUNT in present:
        queries.append(lines.group_by("seg", STOCK_CODE).agg(pl.col(AMOUNT).sum().alias("revenue")))
    if DESCRIPTION in present:
        queries.append(most_common_description(lines))
    collected = pl.collect_all(queries)
    return ProductLines(
        customers=pd.Index(segments.index),
        cust_segment=seg_codes,
        segments=pd.Index(seg_values),
        bought=collected[0],
        revenue=collected[1] if AMOUNT in present else None,
        names=collected[-1] if DESCRIPTION in present else None,
    )


def _with_names(table: pl.LazyFrame, lines: ProductLines) -> pl.LazyFrame:
    if lines.names is None:
        return table.with_columns(pl.lit(None, dtype=pl.String).alias(DESCRIPTION))
    return table.join(lines.names.lazy(), on=STOCK_CODE, how="left", maintain_order="left")


def _top_products(lines: ProductLines, top_n: int, min_support: float) -> pd.DataFrame:
    n_customers = len(lines.customers)
    seg_size = pl.DataFrame(
        {
            "seg": np.arange(len(lines.segments), dtype=np.uint32),
            "size": np.bincount(lines.cust_segment, minlength=len(lines.segments)),
        }
    ).lazy()
    bought = lines.bought.lazy()
    population = bought.group_by(STOCK_CODE).agg(pl.len().alias("pop_buyers"))
    cells = bought.group_by("seg", STOCK_CODE).agg(pl.len().alias("buyers"))
    if lines.revenue is not None:
        cells = cells.join(lines.revenue.lazy(), on=["seg", STOCK_CODE], how="left")
    else:
        cells = cells.with_columns(pl.lit(None, dtype=pl.Float64).alias("revenue"))
    table = (
        cells.join(population, on=STOCK_CODE, how="left")
        .join(seg_size, on="seg", how="left")
        .with_columns(
            (pl.col("buyers") / pl.col("size")).alias("customer_share"),
            (pl.col("pop_buyers") / n_customers).alias("population_share"),
        )
        .with_columns((pl.col("customer_share") / pl.col("population_share")).alias("lift"))
        .filter(pl.col("customer_share") >= min_support)
        # Rank within segment: lift (what distinguishes the segment), then customer share,
        # revenue (missing last), stock code.
        .sort(
            ["seg", "lift", "customer_share", "revenue", STOCK_CODE],
            descending=[False, True, True, True, False],
            nulls_last=True,
        )
        .with_columns(pl.int_range(1, pl.len() + 1).over("seg").alias("rank"))
        .filter(pl.col("rank") <= top_n)
    )
    out = _with_names(table, lines).collect()
    return pd.DataFrame(
        {
            SEGMENT: lines.segments.to_numpy()[out["seg"].to_numpy()],
            "rank": out["rank"].to_numpy().astype(np.int64),
            STOCK_CODE: out[STOCK_CODE].to_numpy(),
            DESCRIPTION: out[DESCRIPTION].to_numpy(),
            "buyers": out["buyers"].to_numpy().astype(np.int64),
            "customer_share": out["customer_share"].to_numpy(),
            "population_share": out["population_share"].to_numpy(),
            "lift": out["lift"].to_numpy(),
            "revenue": out["revenue"].to_numpy().astype(float),
        }
    )


def segment_top_products(
    tx: pl.DataFrame | ProductLines | None,
    segments: pd.Series,
    top_n: int = 10,
    min_support: float = 0.02,
) -> pd.DataFrame:
    """Each segment's distinguishing products: ranked by lift among those bought by at least
    ``min_support`` of the segment's customers.

    Ranking by customer share alone puts first what every customer buys, often products the
    segment buys less than average (lift below 1); lift with a minimum support picks what the
    segment over-indexes on without chasing products one customer bought. ``segments`` maps
    customer_id (index) to a segment name or id. Ties in lift are broken by customer share,
    then revenue, then stock code. Columns: segment, rank, stock_code, description, buyers,
    customer_share, population_share, lift, revenue. ``tx`` may be a :func:`product_lines`
    of the log, shared with the other product tables.
    """
    return _top_products(product_lines(tx, segments), top_n, min_support)


def popular_overall(
    tx: pl.DataFrame | ProductLines | None, segments: pd.Series, top_n: int = 10
) -> pd.DataFrame:
    """The products most of the segmented customers bought, whatever their segment: the
    baseline to show beside ``segment_top_products``.

    Columns: rank, stock_code, description, buyers, population_share (buyers / segmented
    customers), revenue. Ties broken by revenue, then stock code.
    """
    lines = product_lines(tx, segments)
    n_customers = len(lines.customers)
    buyers = lines.bought.lazy().group_by(STOCK_CODE).agg(pl.len().alias("buyers"))
    if lines.revenue is not None:
        revenue = lines.revenue.lazy().group_by(STOCK_CODE).agg(pl.col("revenue").sum())
        buyers = buyers.join(revenue, on=STOCK_CODE, how="left")
    else:
        buyers = buyers.with_columns(pl.lit(None, dtype=pl.Float64).alias("revenue"))
    table = (
        buyers.sort(["buyers", "revenue", STOCK_CODE], descending=[True, True, False])
        .head(top_n)
        .with_columns(
            pl.int_range(1, pl.len() + 1).alias("rank"),
            (pl.col("buyers") / n_customers).alias("population_share"),
        )
    )
    out = _with_names(table, lines).collect()
    return pd.DataFrame(
        {
            "rank": out["rank"].to_numpy().astype(np.int64),
            STOCK_CODE: out[STOCK_CODE].to_numpy(),
            DESCRIPTION: out[DESCRIPTION].to_numpy(),
            "buyers": out["buyers"].to_numpy().astype(np.int64),
            "population_share": out["population_share"].to_numpy(),
            "revenue": out["revenue"].to_numpy().astype(float),
        }
    )


def customer_recommendations(
    tx: pl.DataFrame | ProductLines | None,
    segments: pd.Series,
    top_n: int = 5,
    candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per customer: the segment's picks (by lift, as ``segment_top_products``) they have not
    bought yet.

    ``candidates`` is a :func:`segment_top_products` table (segment, rank, stock_code,
    customer_share); by default each segment's ``max(4 * top_n, 20)`` best picks.
    ``score`` is the product's customer_share in the segment (the chance a segment customer
    buys it). Customers without purchases get the segment's top products. Rows follow the order
    of ``segments``, then rank. Columns: customer_id, segment, rank, stock_code, description,
    score.
    """
    lines = product_lines(tx, segments)
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
    cand_seg = lines.segments.get_indexer(cand[SEGMENT])
    known = cand_seg >= 0
    if DESCRIPTION not in cand.columns:
        cand = cand.assign(**{DESCRIPTION: None})
    picks = pl.DataFrame(
        {
            "seg": cand_seg[known].astype(np.uint32),
            "order": np.arange(int(known.sum()), dtype=np.uint32),
            STOCK_CODE: cand.loc[known, STOCK_CODE].astype("str").to_numpy(),
            DESCRIPTION: cand.loc[known, DESCRIPTION].to_numpy(dtype=object),
            "score": cand.loc[known, "customer_share"].to_numpy(float),
        },
        schema_overrides={STOCK_CODE: lines.bought.schema[STOCK_CODE], DESCRIPTION: pl.String},
    )
    customers = pl.DataFrame(
        {
            "cust": np.arange(len(lines.customers), dtype=np.uint32),
            "seg": lines.cust_segment.astype(np.uint32),
        }
    )
    # Every customer x their segment's picks is (customers x picks per segment) rows, 20M at
    # 1M customers: that product holds integers only (customer, pick), already in customer
    # then pick order, so no sort; products and names join the top_n rows kept.
    owned = (
        lines.bought.lazy()
        .select("cust", "seg", STOCK_CODE)
        .join(picks.lazy().select("seg", STOCK_CODE, "order"), on=["seg", STOCK_CODE])
        .select("cust", "order")
    )
    out = (
        customers.lazy()
        .join(picks.lazy().select("seg", "order"), on="seg", maintain_order="left_right")
        .select("cust", "order")
        .join(owned, on=["cust", "order"], how="anti", maintain_order="left")
        .group_by("cust", maintain_order=True)
        .head(top_n)
        .with_columns(pl.int_range(1, pl.len() + 1).over("cust").alias("rank"))
        .join(picks.lazy().drop("seg"), on="order", maintain_order="left")
        .collect()
    )
    if DESCRIPTION not in candidates.columns and lines.names is not None:
        out = out.drop(DESCRIPTION).join(
            lines.names, on=STOCK_CODE, how="left", maintain_order="left"
        )
    cust = out["cust"].to_numpy()
    # Text columns handed over as Arrow-backed pandas strings: building 5M Python str objects
    # (``to_numpy``) took 20x longer for the same column.
    return pd.DataFrame(
        {
            CUSTOMER_ID: lines.customers.take(cust).array,
            SEGMENT: lines.segments.take(lines.cust_segment[cust]).array,
            "rank": out["rank"].to_numpy().astype(np.int64),
            STOCK_CODE: out[STOCK_CODE].cast(pl.String).to_pandas().array,
            DESCRIPTION: out[DESCRIPTION].to_pandas().array,
            "score": out["score"].to_numpy().astype(float),
        }
    )

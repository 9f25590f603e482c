"""What each segment is worth: customers, revenue, revenue share and average order value.

Marketing ranks segments by what they bring in, not by how many customers they hold: a segment
of 12% of customers can carry two thirds of the revenue. The figures come from the customer
feature table, so they exist for every dataset (transaction logs, summary tables, feature
tables)::

    revenue             = sum of the segment's spend (``monetary``; with ``features.monetary=mean``
                          it is mean order value x orders per customer)
    revenue_share       = segment revenue / revenue of all customers
    avg_order_value     = segment revenue / segment orders (``frequency``)
    revenue_per_customer = segment revenue / segment customers

With ``features.frequency=days`` an "order" is a purchase day. Spend netted below zero by returns
(``cleaning.returns=net``) counts as it is, so a segment's revenue can be negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.columns import FREQUENCY, MONETARY, SEGMENT_ID
from src.errors import SegmentationError

WORTH_COLUMNS = (
    "n_customers",
    "customer_share",
    "revenue",
    "revenue_share",
    "avg_order_value",
    "revenue_per_customer",
)


def customer_revenue(features: pd.DataFrame, monetary: str = "total") -> pd.Series:
    """Each customer's spend over the feature window, from the feature table."""
    missing = [c for c in (MONETARY, FREQUENCY) if c not in features.columns]
    if missing:
        raise SegmentationError(
            f"Segment worth needs the feature column(s) {missing} (spend and orders per "
            f"customer); the feature table has {list(features.columns)}. Use the rfm or lrfmc "
            "feature set."
        )
    spend = features[MONETARY].astype(float)
    if monetary == "mean":
        spend = spend * features[FREQUENCY].astype(float)
    elif monetary != "total":
        raise ValueError(f"monetary must be 'total' or 'mean', got {monetary!r}")
    return spend.rename("revenue")


def segment_worth(features: pd.DataFrame, labels, monetary: str = "total") -> pd.DataFrame:
    """One row per segment (index segment_id): the columns of :data:`WORTH_COLUMNS`.

    ``labels`` holds one segment id per feature row, in the same order.
    """
    labels = np.asarray(labels)
    if labels.shape != (len(features),):
        raise ValueError(f"{labels.size} labels for {len(features)} feature rows")
    revenue = customer_revenue(features, monetary).to_numpy()
    frame = pd.DataFrame(
        {
            SEGMENT_ID: labels,
            "revenue": revenue,
            "orders": features[FREQUENCY].to_numpy(dtype=float),
        }
    )
    groups = frame.groupby(SEGMENT_ID, sort=True)
    out = pd.DataFrame({"n_customers": groups.size(), "revenue": groups["revenue"].sum()})
    orders = groups["orders"].sum()
    total = float(out["revenue"].sum())
    out["customer_share"] = out["n_customers"] / out["n_customers"].sum()
    out["revenue_share"] = out["revenue"] / total if total else np.nan
    out["avg_order_value"] = out["revenue"] / orders.where(orders > 0)
    out["revenue_per_customer"] = out["revenue"] / out["n_customers"]
    return out[list(WORTH_COLUMNS)]


def worth_sentence(worth: pd.DataFrame, names) -> str:
    """The headline in words: the segment carrying most revenue per customer share."""
    if worth.empty or worth["revenue_share"].isna().all():
        return ""
    top = (worth["revenue_share"] - worth["customer_share"]).idxmax()
    row = worth.loc[top]
    return (
        f"{names.get(int(top), f'Segment {top}')} are {row['customer_share']:.0%} of customers "
        f"and bring {row['revenue_share']:.0%} of revenue."
    )

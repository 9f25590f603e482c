"""Per segment: what its customers are worth together and on average, and how much of it is at
risk (held by customers whose P(alive) is below ``value.at_risk_p_alive``)."""

from __future__ import annotations

import pandas as pd

from src.columns import SEGMENT_ID, SEGMENT_NAME
from src.errors import SegmentationError
from src.value.customer import CLV, EXPECTED_PURCHASES, P_ALIVE

SEGMENT_VALUE_COLUMNS = (
    SEGMENT_NAME,
    "customers",
    "mean_p_alive",
    "expected_purchases",
    "mean_expected_purchases",
    "clv",
    "mean_clv",
    "clv_share",
    "at_risk_customers",
    "at_risk_customer_share",
    "at_risk_clv",
    "at_risk_clv_share",
)


def segment_value(
    values: pd.DataFrame, assignments: pd.DataFrame, at_risk_p_alive: float
) -> pd.DataFrame:
    """One row per segment id (``SEGMENT_VALUE_COLUMNS``), from per-customer ``values``.

    ``assignments`` holds ``segment_id`` and ``segment_name`` per customer id (the model's
    ``predict``); customers present in only one of the two tables are a bug upstream and fail.
    """
    joined = assignments[[SEGMENT_ID, SEGMENT_NAME]].join(
        values[[P_ALIVE, EXPECTED_PURCHASES, CLV]], how="inner"
    )
    if len(joined) != len(assignments) or len(joined) != len(values):
        raise SegmentationError(
            f"The value model scored {len(values):,} customers and the segmentation "
            f"{len(assignments):,}, of which {len(joined):,} match; both must use the same "
            "cleaned log and snapshot."
        )
    at_risk = joined[P_ALIVE] < at_risk_p_alive
    joined = joined.assign(at_risk=at_risk.astype(int), at_risk_clv=joined[CLV].where(at_risk, 0.0))
    grouped = joined.groupby(SEGMENT_ID, sort=True)
    table = pd.DataFrame(
        {
            SEGMENT_NAME: grouped[SEGMENT_NAME].first(),
            "customers": grouped.size(),
            "mean_p_alive": grouped[P_ALIVE].mean(),
            "expected_purchases": grouped[EXPECTED_PURCHASES].sum(),
            "mean_expected_purchases": grouped[EXPECTED_PURCHASES].mean(),
            "clv": grouped[CLV].sum(),
            "mean_clv": grouped[CLV].mean(),
            "at_risk_customers": grouped["at_risk"].sum(),
            "at_risk_clv": grouped["at_risk_clv"].sum(),
        }
    )
    total = float(table["clv"].sum())
    table["clv_share"] = table["clv"] / total if total > 0 else 0.0
    table["at_risk_customer_share"] = table["at_risk_customers"] / table["customers"]
    table["at_risk_clv_share"] = (table["at_risk_clv"] / table["clv"]).where(table["clv"] > 0, 0.0)
    return table[list(SEGMENT_VALUE_COLUMNS)]

"""The built-in synthetic shop: a seeded transaction log with planted customer segments.

``generate_transactions`` draws the log (``generate.py``) from the data tables in
``profiles.py``; ``to_customer_summary`` collapses a log into the per-customer summary schema
(``summary.py``).
"""

from src.data.synthetic.generate import SyntheticData, generate_transactions
from src.data.synthetic.profiles import DEFAULT_SEGMENT_SHARES, NON_PRODUCT_CODES, SEGMENTS
from src.data.synthetic.summary import to_customer_summary

__all__ = [
    "DEFAULT_SEGMENT_SHARES",
    "NON_PRODUCT_CODES",
    "SEGMENTS",
    "SyntheticData",
    "generate_transactions",
    "to_customer_summary",
]

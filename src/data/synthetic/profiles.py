"""The synthetic shop's data tables: planted segments and how each behaves, the catalogue,
countries, the shares of dirt, and the seasonal, weekly and hourly demand weights.

Nothing here draws random numbers; ``generate.py`` does, from these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "new",
    "at_risk",
    "hibernating",
    "discount_hunters",
)

DEFAULT_SEGMENT_SHARES: dict[str, float] = {
    "champions": 0.12,
    "loyal": 0.20,
    "new": 0.16,
    "at_risk": 0.16,
    "hibernating": 0.20,
    "discount_hunters": 0.16,
}

# Stock codes that are charges or bookkeeping, not products (as in the UCI Online Retail export).
NON_PRODUCT_CODES: dict[str, str] = {
    "POST": "POSTAGE",
    "DOT": "DOTCOM POSTAGE",
    "C2": "CARRIAGE",
    "M": "Manual",
    "BANK CHARGES": "Bank Charges",
    "AMAZONFEE": "AMAZON FEE",
}

HOME_COUNTRY = "United Kingdom"
COUNTRIES = (
    (HOME_COUNTRY, 0.86),
    ("Germany", 0.025),
    ("France", 0.022),
    ("EIRE", 0.018),
    ("Netherlands", 0.012),
    ("Spain", 0.01),
    ("Belgium", 0.01),
    ("Switzerland", 0.008),
    ("Portugal", 0.007),
    ("Norway", 0.006),
    ("Italy", 0.006),
    ("Australia", 0.005),
    ("Sweden", 0.004),
    ("Denmark", 0.003),
    ("Finland", 0.002),
    ("Japan", 0.002),
)

# Shares of dirt when dirty=True (relative to product lines, or orders for fee lines).
GUEST_ORDER_SHARE = 0.03
CANCEL_LINE_SHARE = 0.02
RETURN_LINE_SHARE = 0.01
FREE_LINE_SHARE = 0.01
FEE_ORDER_SHARE = 0.03
DUPLICATE_ROW_SHARE = 0.01
# Mix of NON_PRODUCT_CODES on fee lines: orders shipped abroad mostly pay postage.
FEE_MIX_HOME = np.array([0.15, 0.3, 0.05, 0.35, 0.1, 0.05])
FEE_MIX_ABROAD = np.array([0.75, 0.05, 0.1, 0.05, 0.05, 0.0])


@dataclass(frozen=True)
class Profile:
    """How one planted segment behaves; ages are days before the snapshot."""

    tenure: tuple[float, float, float, float]  # signup age: lognormal median, sigma, min, max
    recency: tuple[float, float, float, float]  # last-order age: lognormal median, sigma, min, max
    orders: tuple[int, float, float, int]  # min orders, mean extra (neg. binomial), dispersion, max
    first_order: tuple[float, float]  # beta(a, b): first order between last order and signup
    lines: float  # mean lines per order
    quantity: float  # median of the customer's mean quantity per line
    discount: tuple[float, float]  # beta(a, b) of the customer's chance an order is discounted
    categories: tuple[float, ...]  # relative preference per catalogue category


CATEGORY_NAMES = (
    "home_decor",
    "kitchen",
    "stationery",
    "party",
    "toys",
    "garden",
    "bags",
    "lighting",
    "christmas",
)

PROFILES: dict[str, Profile] = {
    "champions": Profile(
        tenure=(950, 0.35, 400, 3000),
        recency=(5, 0.8, 1, 30),
        orders=(12, 12.0, 5.0, 120),
        first_order=(6.0, 1.3),
        lines=2.6,
        quantity=15.0,
        discount=(1.0, 20.0),
        categories=(3.0, 2.0, 1.0, 0.8, 0.8, 1.5, 1.0, 3.0, 1.0),
    ),
    "loyal": Profile(
        tenure=(750, 0.35, 250, 3000),
        recency=(28, 0.45, 3, 90),
        orders=(4, 4.0, 8.0, 30),
        first_order=(4.0, 1.5),
        lines=2.0,
        quantity=7.0,
        discount=(2.0, 30.0),
        categories=(2.0, 3.0, 1.5, 1.0, 1.0, 1.5, 1.5, 1.0, 1.0),
    ),
    "new": Profile(
        tenure=(40, 0.6, 3, 150),
        recency=(14, 0.8, 1, 150),
        orders=(1, 0.5, 2.0, 3),
        first_order=(8.0, 1.0),
        lines=2.0,
        quantity=4.0,
        discount=(1.0, 60.0),
        categories=(1.0, 1.0, 1.5, 2.0, 2.5, 1.0, 2.0, 1.0, 1.0),
    ),
    "at_risk": Profile(
        tenure=(950, 0.35, 400, 3000),
        recency=(290, 0.25, 150, 600),
        orders=(5, 6.0, 6.0, 40),
        first_order=(5.0, 1.2),
        lines=2.0,
        quantity=7.0,
        discount=(2.0, 30.0),
        categories=(1.5, 1.5, 1.0, 1.0, 1.0, 3.0, 2.0, 1.0, 1.0),
    ),
    "hibernating": Profile(
        tenure=(850, 0.4, 200, 3000),
        recency=(430, 0.3, 150, 5000),
        orders=(1, 0.5, 2.0, 3),
        first_order=(1.0, 3.0),
        lines=1.8,
        quantity=3.0,
        discount=(1.0, 60.0),
        categories=(1.0, 1.0, 1.0, 2.0, 1.5, 1.0, 1.0, 1.0, 3.0),
    ),
    "discount_hunters": Profile(
        tenure=(450, 0.45, 60, 3000),
        recency=(40, 0.7, 1, 300),
        orders=(5, 3.0, 6.0, 30),
        first_order=(3.0, 1.5),
        lines=2.0,
        quantity=5.0,
        discount=(18.0, 2.0),
        categories=(1.0, 1.0, 3.0, 3.0, 1.5, 0.5, 1.5, 0.5, 1.0),
    ),
}

# Catalogue: (median unit price, product nouns) per category; products are colour/style + noun.
CATALOGUE_SEED = 20_231_101
PRODUCTS_PER_CATEGORY = 38
ZIPF_EXPONENT, ZIPF_OFFSET = 1.0, 5.0  # Zipf-Mandelbrot popularity by rank
CATEGORY_ITEMS: dict[str, tuple[float, tuple[str, ...]]] = {
    "home_decor": (
        3.5,
        ("T-LIGHT HOLDER", "PHOTO FRAME", "CUSHION COVER", "DOORMAT", "WALL CLOCK", "MIRROR"),
    ),
    "kitchen": (
        2.8,
        ("CAKE CASES", "TEA TOWEL", "MUG", "JAM JAR", "LUNCH BOX", "APRON", "CAKESTAND"),
    ),
    "stationery": (
        1.1,
        ("NOTEBOOK", "PENCIL SET", "GREETING CARD", "WRAPPING PAPER", "GIFT TAG", "MEMO BOARD"),
    ),
    "party": (
        0.9,
        ("PAPER NAPKINS", "PARTY BAG", "PAPER CUPS", "PAPER PLATES", "BUNTING", "PARTY CANDLES"),
    ),
    "toys": (
        2.2,
        ("JIGSAW", "SKIPPING ROPE", "TOY TEA SET", "RAG DOLL", "SPINNING TOP", "KITE"),
    ),
    "garden": (
        4.2,
        ("WATERING CAN", "PLANT POT", "BIRD FEEDER", "GARDEN KNEELER", "HERB MARKERS"),
    ),
    "bags": (
        1.9,
        ("JUMBO BAG", "SHOPPER BAG", "LUNCH BAG", "CHARLOTTE BAG", "PURSE", "WASHBAG"),
    ),
    "lighting": (
        4.8,
        ("TABLE LAMP", "FAIRY LIGHTS", "NIGHT LIGHT", "LANTERN", "STRING LIGHTS", "CANDLE POT"),
    ),
    "christmas": (
        1.8,
        ("BAUBLE", "ADVENT CALENDAR", "TREE DECORATION", "STOCKING", "WREATH", "CRACKERS"),
    ),
}
STYLES = (
    "RED",
    "PINK",
    "BLUE",
    "WHITE",
    "IVORY",
    "GREEN",
    "VINTAGE",
    "RETRO",
    "SPOTTY",
    "FLORAL",
    "PAISLEY",
    "REGENCY",
    "SCANDINAVIAN",
    "HEART",
    "STAR",
    "WOODEN",
    "ENAMEL",
    "GLASS",
    "JUMBO",
    "MINI",
    "RUSTIC",
    "PARISIENNE",
)
CHRISTMAS_MONTHS = (10, 11, 12)
CHRISTMAS_IN_SEASON, CHRISTMAS_OFF_SEASON = 4.0, 0.15  # weight of Christmas products

# Demand over the calendar: autumn build-up to a November peak, quiet weekends, shut at Christmas.
MONTH_WEIGHT = np.array([0.75, 0.75, 0.9, 0.85, 0.95, 0.9, 0.85, 0.9, 1.2, 1.35, 1.75, 1.1])
WEEKDAY_WEIGHT = np.array([1.05, 1.1, 1.05, 1.15, 0.9, 0.45, 0.7])  # Monday first
HOUR_WEIGHT = np.array([0.3, 0.8, 1.0, 1.2, 1.3, 1.4, 1.3, 1.2, 1.0, 0.8, 0.5, 0.35, 0.2])

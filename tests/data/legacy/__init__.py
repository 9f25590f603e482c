"""The pandas implementation of the data layer before polars, kept only to prove the polars
engine gives the same results (tests/data/test_engine_equality.py)."""

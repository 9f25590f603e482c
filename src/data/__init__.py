"""Datasets: loading, synthetic generation and cleaning."""

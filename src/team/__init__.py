"""Shared servers for teams: PostgreSQL for Optuna and MLflow, and an MLflow tracking server."""

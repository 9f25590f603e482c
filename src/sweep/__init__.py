"""The Optuna sweep over outliers, scaler, model and k (no MLflow here: trials report to hooks)."""

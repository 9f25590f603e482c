"""Customer segmentation experiments: datasets, features, sweeps and MLflow tracking."""

import os

# Set before anything imports mlflow: runs are local and often offline, so MLflow's usage
# telemetry stays off and artifact downloads print no progress bars unless the user asks.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

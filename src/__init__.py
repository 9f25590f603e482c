"""Customer segmentation experiments: datasets, features, sweeps and MLflow tracking."""

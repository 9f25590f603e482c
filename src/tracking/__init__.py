"""The only package that imports mlflow: runs, trials, artifacts, registry and serving."""

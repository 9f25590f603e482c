"""scikit-learn models: transformers, clusterers, the pipeline, the fitted segmentation, metrics."""

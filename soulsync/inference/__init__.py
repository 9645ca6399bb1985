"""Serving the model: artifact loading, runtimes and the predictor. Knows nothing of HTTP."""

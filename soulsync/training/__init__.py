"""Training: data loading, candidate models, evaluation and export.

The only package here that imports TensorFlow; the service never imports it.
"""

"""Training: the survey data, the candidate models, the stress test, the stages, the card's
words and the export.

The only package that imports TensorFlow; the service never imports it, and nothing offline
that must run without it (the monitor, recalibration) imports this package: what they share with
training lives in soulsync/analysis.
"""

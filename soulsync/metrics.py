"""Prometheus metrics, correct across gunicorn workers through prometheus-client's
multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "soulsync_http_requests_total",
    "HTTP requests by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "soulsync_http_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PREDICTIONS = Counter("soulsync_predictions_total", "Questionnaires scored, by result.", ["result"])
MODEL_INFO = Gauge(
    "soulsync_model_info",
    "The model served (value 1).",
    ["version", "backend"],
    multiprocess_mode="max",
)
MODEL_LOAD_SECONDS = Gauge(
    "soulsync_model_load_seconds",
    "Time to load and warm up the model (slowest worker).",
    multiprocess_mode="max",
)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def model_loaded(version: str, backend: str, seconds: float) -> None:
    MODEL_INFO.labels(version, backend).set(1)
    MODEL_LOAD_SECONDS.set(seconds)


def exposition() -> bytes:
    """Every metric in Prometheus' text format: all workers' in multiprocess mode, this
    process's otherwise."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)

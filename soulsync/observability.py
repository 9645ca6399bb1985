"""Logs and metrics.

Logs: one JSON object per line on stdout, in the shape Cloud Logging reads (`severity`,
`message`, `httpRequest`, `logging.googleapis.com/trace`), with a request id echoed to the
client. Nothing a client sends is logged (it is health data): no body, no answer, no query
string, no user agent; the request id is kept only if it is a short plain token.

Metrics: Prometheus, correct across gunicorn workers through prometheus-client's multiprocess
mode when PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, current_app, g, request
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

#: Probes and scrapes that succeed are counted but not logged: they would drown the log.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REQUEST_ID_HEADER = "X-Request-ID"
TRACE_HEADER = "X-Cloud-Trace-Context"
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")

logger = logging.getLogger("soulsync")
access_logger = logging.getLogger("soulsync.access")

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

_SEVERITY = {
    "WARNING": "WARNING",
    "CRITICAL": "CRITICAL",
    "ERROR": "ERROR",
    "INFO": "INFO",
    "DEBUG": "DEBUG",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, as Cloud Logging's structured logging expects."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": record.getMessage(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            + f".{int((record.created - seconds) * 1000):03d}Z",
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """The service's loggers write JSON lines to stdout (once per process)."""
    if not any(getattr(h, "soulsync", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        handler.soulsync = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


def _new_request_id() -> str:
    """The client's X-Request-ID if it is a plain short token, otherwise a new one."""
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    return sent if _PLAIN_TOKEN.fullmatch(sent) else uuid.uuid4().hex


def request_id() -> str:
    """The id of the current request."""
    if "request_id" not in g:
        g.request_id = _new_request_id()
    return g.request_id


def _trace() -> dict[str, str]:
    header = request.headers.get(TRACE_HEADER, "")
    trace_id = header.split("/", 1)[0]
    if not _TRACE_ID.fullmatch(trace_id):
        return {}
    project = current_app.config.get("GCP_PROJECT")
    if project:
        return {"logging.googleapis.com/trace": f"projects/{project}/traces/{trace_id}"}
    return {"trace_id": trace_id}


def log_fields(**fields: Any) -> None:
    """Add fields (model version, result...) to the current request's access line."""
    g.setdefault("log_fields", {}).update(fields)


def init_app(app: Flask) -> None:
    """Time every request, echo its id, write its access line and count it."""

    @app.before_request
    def start_request() -> None:
        # Set afresh: an app context (and its g) can outlive one request, in tests.
        g.started = time.perf_counter()
        g.request_id = _new_request_id()
        g.log_fields = {}

    @app.after_request
    def finish(response: Response) -> Response:
        # The context-local proxies are resolved once: each use of one costs a look-up.
        current, context = request._get_current_object(), g._get_current_object()
        seconds = time.perf_counter() - context.get("started", time.perf_counter())
        identifier = context.get("request_id") or request_id()
        response.headers.add(REQUEST_ID_HEADER, identifier)
        rule = current.url_rule.rule if current.url_rule else "unmatched"
        method, status = current.method, response.status_code
        REQUESTS.labels(rule, method, str(status)).inc()
        LATENCY.labels(rule).observe(seconds)
        if rule in QUIET_PATHS and status < 400:
            return response
        fields = {
            "httpRequest": {
                "requestMethod": method,
                # The route, not the path: a path is whatever the client typed.
                "requestUrl": rule,
                "status": status,
                "responseSize": str(response.calculate_content_length() or 0),
                "latency": f"{seconds:.6f}s",
                "protocol": current.environ.get("SERVER_PROTOCOL", ""),
            },
            "request_id": identifier,
            **_trace(),
            **context.get("log_fields", {}),
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        access_logger.log(level, "%s %s %s", method, rule, status, extra={"fields": fields})
        return response


def metrics_registry() -> CollectorRegistry:
    """All workers' metrics in multiprocess mode, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_response() -> Response:
    return Response(generate_latest(metrics_registry()), mimetype=CONTENT_TYPE_LATEST)

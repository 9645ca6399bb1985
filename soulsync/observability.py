"""Every request: its id (echoed to the client), its access line and its metrics.

The access line is JSON in Cloud Logging's shape (`httpRequest`, `logging.googleapis.com/trace`).
Nothing a client sends is logged (it is health data): no body, no answer, no query string, no
user agent, not the path as typed (the route instead); the request id is kept only if it is a
short plain token.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from flask import Flask, Response, current_app, g, request

from soulsync.logs import configure_logging
from soulsync.metrics import METHODS, RequestCounts

EXTENSION = "soulsync.requests"
#: Probes and scrapes that succeed are counted but not logged: they would drown the log.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REQUEST_ID_HEADER = "X-Request-ID"
TRACE_HEADER = "X-Cloud-Trace-Context"
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")

access_logger = logging.getLogger("soulsync.access")


def _new_request_id() -> str:
    """The client's X-Request-ID if it is a plain short token, otherwise a new one."""
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    return sent if _PLAIN_TOKEN.fullmatch(sent) else secrets.token_hex(16)


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
    """JSON log lines on stdout; time every request, echo its id, write its access line and
    count it (see count_requests)."""
    configure_logging(app.config["LOG_LEVEL"])

    @app.before_request
    def start_request() -> None:
        # Set afresh: an app context (and its g) can outlive one request, in tests. Flask
        # documents _get_current_object() as the way to the object behind a proxy: each use of
        # the proxy itself costs a look-up.
        context = g._get_current_object()
        context.started = time.perf_counter()
        context.request_id = _new_request_id()
        context.log_fields = {}

    @app.after_request
    def finish(response: Response) -> Response:
        current, context = request._get_current_object(), g._get_current_object()
        seconds = time.perf_counter() - context.get("started", time.perf_counter())
        # A request refused before start_request ran (none is, today) still gets an id.
        identifier = context.get("request_id") or _new_request_id()
        response.headers.add(REQUEST_ID_HEADER, identifier)
        url_rule = current.url_rule
        rule = url_rule.rule if url_rule else "unmatched"
        method, status = current.method, response.status_code
        # A method the route does not take (or an invented one) is "other": whatever clients
        # send, each route has a handful of series.
        if method not in METHODS or url_rule is None or method not in url_rule.methods:
            method = "other"
        counts = request_counts()
        if counts is not None:
            counts.record(rule, method, status, seconds)
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
        if access_logger.isEnabledFor(level):
            # makeRecord and handle, not log(): log() also walks the stack to find the caller,
            # which the line does not show.
            record = access_logger.makeRecord(
                access_logger.name,
                level,
                __file__,
                0,
                "%s %s %s",
                (method, rule, status),
                None,
                extra={"fields": fields},
            )
            access_logger.handle(record)
        return response


def count_requests(app: Flask) -> RequestCounts:
    """Count every request by route, method and status, once every route is known."""
    counts = RequestCounts(sorted({rule.rule for rule in app.url_map.iter_rules()}))
    app.extensions[EXTENSION] = counts
    return counts


def request_counts() -> RequestCounts | None:
    return current_app.extensions.get(EXTENSION)

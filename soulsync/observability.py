"""Every request: its id (echoed to the client), its access line and its metrics.

The access line is JSON in Cloud Logging's shape (`httpRequest`, `logging.googleapis.com/trace`).
Nothing a client sends is logged (it is health data): no body, no answer, no query string, no
user agent, not the path as typed (the route instead, or for a path that matches no route, the
route it nearly names); the request id is kept only if it is a short plain token.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.exceptions import MethodNotAllowed

from soulsync.logs import configure_logging
from soulsync.metrics import METHODS, ServiceMetrics

EXTENSION = "soulsync.metrics"
#: Probes and scrapes that succeed are counted but not logged: they would drown the log.
QUIET_PATHS = frozenset({"/health", "/healthz", "/readyz", "/metrics"})
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"
TRACE_ENVIRON = "HTTP_X_CLOUD_TRACE_CONTEXT"
UNMATCHED = "unmatched"
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")

access_logger = logging.getLogger("soulsync.access")


@dataclass
class RequestRecord:
    """What the access line and the metrics need of one request, kept in its WSGI environ (which
    lives exactly as long as the request)."""

    started: float
    #: Extra fields of the access line (the model version): never anything a client sent.
    fields: dict[str, Any] = field(default_factory=dict)


#: The environ key of a request's RequestRecord (WSGI's namespaced key for an application's own).
RECORD = "soulsync.request"


def _request_id(environ: dict[str, Any]) -> str:
    """The client's X-Request-ID if it is a plain short token, otherwise a new one."""
    sent = environ.get(REQUEST_ID_ENVIRON, "")
    return sent if _PLAIN_TOKEN.fullmatch(sent) else secrets.token_hex(16)


def log_fields(**fields: Any) -> None:
    """Add fields (the model version...) to the current request's access line."""
    request.environ[RECORD].fields.update(fields)


def start_request() -> None:
    request.environ[RECORD] = RequestRecord(time.perf_counter())


def init_app(app: Flask) -> None:
    """JSON log lines on stdout; time every request, echo its id, write its access line and
    count it: one hook before and one after each request, which read the request once."""
    configure_logging(app.config["LOG_LEVEL"])
    metrics = app.extensions[EXTENSION] = ServiceMetrics()
    project = app.config.get("GCP_PROJECT")
    routes: set[str] = set()  # every route, read when a path first matches none

    def trace(environ: dict[str, Any]) -> dict[str, str]:
        trace_id = environ.get(TRACE_ENVIRON, "").split("/", 1)[0]
        if not _TRACE_ID.fullmatch(trace_id):
            return {}
        if project:
            return {"logging.googleapis.com/trace": f"projects/{project}/traces/{trace_id}"}
        return {"trace_id": trace_id}

    def route(current: Request) -> tuple[str, str | None]:
        """The route a request matched, or `unmatched` and the route it nearly names: its
        path's route when the method is one the route does not take (405), else the route the
        same but for a trailing slash. A clue for the log, never the client's bytes."""
        if current.url_rule is not None:
            return current.url_rule.rule, None
        refused = current.routing_exception
        if isinstance(refused, MethodNotAllowed) and refused.valid_methods:
            adapter = app.url_map.bind_to_environ(current.environ)
            rule, _ = adapter.match(method=refused.valid_methods[0], return_rule=True)
            return UNMATCHED, rule.rule
        if not routes:
            routes.update(rule.rule for rule in app.url_map.iter_rules())
        path = current.path
        near = path.rstrip("/") if path.endswith("/") else path + "/"
        return UNMATCHED, near if near in routes else None

    def finish_request(response: Response) -> Response:
        """Echo the request id, count the request and write its access line."""
        current = request._get_current_object()  # Flask's documented way past the proxy
        environ = current.environ
        # A request refused before start_request ran (by an earlier hook) has no record.
        record = environ.get(RECORD) or RequestRecord(time.perf_counter())
        seconds = time.perf_counter() - record.started
        request_id = _request_id(environ)
        response.headers.add(REQUEST_ID_HEADER, request_id)
        url_rule = current.url_rule
        rule, near = route(current)
        method, status = current.method, response.status_code
        if url_rule is not None and method not in url_rule.methods:
            method = "other"  # a method the route does not take: bounded series, whatever is sent
        elif method not in METHODS:
            method = "other"
        metrics.record_request(rule, method, status, seconds)
        if rule in QUIET_PATHS and status < 400:
            return response
        level = logging.ERROR if status >= 500 else logging.INFO
        if not access_logger.isEnabledFor(level):
            return response
        http = {
            "requestMethod": method,
            # The route, not the path: a path is whatever the client typed.
            "requestUrl": rule,
            "status": status,
            # No responseSize: screening replies are padded to one size (api/padding.py), and
            # the line has no need to say it.
            "latency": f"{seconds:.6f}s",
            "protocol": environ.get("SERVER_PROTOCOL", ""),
        }
        fields = {"httpRequest": http, "request_id": request_id, **trace(environ), **record.fields}
        if near is not None:
            fields["near_route"] = near
        # makeRecord and handle, not log(): log() also walks the stack to find the caller, which
        # the line does not show.
        line = access_logger.makeRecord(
            access_logger.name, level, __file__, 0, "%s %s %s", (method, rule, status),
            None, extra={"fields": fields},
        )  # fmt: skip
        access_logger.handle(line)
        return response

    app.before_request(start_request)
    app.after_request(finish_request)


def service_metrics(app: Flask) -> ServiceMetrics:
    return app.extensions[EXTENSION]

"""Liveness and readiness for Cloud Run's probes, and metrics for Prometheus."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields

from soulsync import metrics, observability
from soulsync.api.blueprint import Blueprint, operators_only
from soulsync.api.state import state

blp = Blueprint("health", __name__, description="Health checks and metrics.")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    model_version = fields.String(required=True)
    backend = fields.String(required=True, metadata={"example": "tflite"})
    load_seconds = fields.Float(required=True)


def _alive(docstring: str) -> Any:
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    def get(self: MethodView) -> dict[str, str]:
        return {"status": "ok"}

    get.__doc__ = docstring
    return get


@blp.route("/healthz")
class LiveView(MethodView):
    get = _alive(
        """Liveness (the platform's probe)

        200 while the process can answer at all. On a `*.run.app` address Google's front end
        keeps this path for itself: clients use `GET /health`.
        """
    )


@blp.route("/health")
class ClientLiveView(MethodView):
    get = _alive(
        """Liveness (for clients)

        The same as `GET /healthz`, at a path that Cloud Run's `*.run.app` addresses pass on.
        """
    )


@blp.route("/readyz")
class ReadyView(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ReadySchema)
    def get(self) -> dict[str, Any]:
        """Readiness

        200 once the model is loaded and warmed up: a worker takes requests only after its app
        is built, and the app is built only with its model loaded, so a worker that answers is
        ready.
        """
        screener = state().screener
        return {
            "status": "ready",
            "model_version": screener.version,
            "backend": screener.backend_name,
            "load_seconds": round(screener.load_seconds, 4),
        }


@blp.route("/metrics")
class MetricsView(MethodView):
    @blp.response(200, content_type="text/plain", description="Prometheus text format.")
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self) -> Response:
        """Prometheus metrics

        Requests by endpoint, method and status, latency histograms, the questionnaires scored
        by group and result, the answers to each question and the scores by group (counts only),
        the model served and its load time; summed over all gunicorn workers. When
        SOULSYNC_METRICS_PORT is set (as in the container image), only on that port, which
        listens on 127.0.0.1 for the platform's collector: 404 on the service's port.
        """
        operators_only()
        text = observability.service_metrics(current_app).exposition()
        return Response(text, mimetype=metrics.CONTENT_TYPE)

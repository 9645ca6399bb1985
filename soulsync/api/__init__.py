"""The HTTP layer: blueprints, their schemas and the documentation pages.

It reaches the model only through the screener handed to `init_app`, and knows nothing of
TensorFlow.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request
from werkzeug.routing import RequestRedirect

from soulsync.api import docs, errors, headers, health, meta, monitoring, prediction
from soulsync.api.state import EXTENSION, ApiState
from soulsync.inference.screening import NOTICE, Screener
from soulsync.metrics import LiveCounts


class ServiceFlask(Flask):
    """Flask, whose redirects (`/prediction` to `/prediction/`) name a path, never the Host
    header a client sent."""

    def raise_routing_exception(self, request: Request) -> None:
        error = request.routing_exception
        if isinstance(error, RequestRedirect):
            target = urlsplit(error.new_url)
            location = target.path + (f"?{target.query}" if target.query else "")
            raise RequestRedirect(location)
        super().raise_routing_exception(request)


def init_app(app: Flask, screener: Screener, live: LiveCounts) -> None:
    """The documented API (flask-smorest), the docs pages, CORS and response headers."""
    docs.configure(app)
    api = errors.ServiceApi(app)
    for module in (meta, prediction, monitoring, health):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    app.extensions[EXTENSION] = ApiState(
        api=api,
        screener=screener,
        live=live,
        support={
            "message": app.config["SUPPORT_MESSAGE"],
            "contacts": app.config["SUPPORT_CONTACTS"],
            "notice": NOTICE,
        },
    )
    headers.init_app(app)


def openapi_document(app: Flask) -> dict:
    """The OpenAPI document of an app built by create_app, as `/openapi.json` serves it."""
    return app.extensions[EXTENSION].api.spec.to_dict()

"""The HTTP layer: blueprints, their schemas and the documentation pages.

It reaches the model only through the screener handed to `init_app`, and knows nothing of
TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from flask import Flask, Request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import RequestRedirect

from soulsync.api import docs, errors, headers, health, meta, monitoring, prediction
from soulsync.api.state import EXTENSION, ApiState
from soulsync.inference.screening import NOTICE, Screener
from soulsync.metrics import LiveCounts


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON, written by orjson in a fifth of the standard library's time: the same
    documents (keys sorted, compact), but UTF-8 written as is rather than escaped, and integer
    keys (a 422's list indices) sorted as text."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        indent = kwargs.pop("indent", None)
        sort_keys = kwargs.pop("sort_keys", self.sort_keys)
        if kwargs.pop("separators", (",", ":")) != (",", ":") or kwargs or indent not in (None, 2):
            return super().dumps(obj, indent=indent, sort_keys=sort_keys, **kwargs)
        option = orjson.OPT_NON_STR_KEYS  # marshmallow names list items by index (int)
        option |= (orjson.OPT_SORT_KEYS if sort_keys else 0) | (
            orjson.OPT_INDENT_2 if indent else 0
        )
        return orjson.dumps(obj, default=self.default, option=option).decode()


class ServiceFlask(Flask):
    """Flask, whose redirects (`/prediction` to `/prediction/`) name a path, never the Host
    header a client sent, and whose views are all synchronous."""

    json_provider_class = OrjsonProvider

    def ensure_sync(self, func: Callable) -> Callable:
        """No view here is async (a test checks), so none needs wrapping: Flask's own check
        costs a few microseconds on each of a request's calls."""
        return func

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
    prediction.document_examples(api.spec, screener, app.extensions[EXTENSION].support)
    headers.init_app(app)


def openapi_document(app: Flask) -> dict:
    """The OpenAPI document of an app built by create_app, as `/openapi.json` serves it."""
    return app.extensions[EXTENSION].api.spec.to_dict()

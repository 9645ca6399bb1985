"""The HTTP layer: blueprints, their schemas and the documentation pages.

It reaches the model only through the screener handed to `init_app`, and knows nothing of
TensorFlow.
"""

from __future__ import annotations

from flask import Flask

from soulsync.api import (
    answers,
    docs,
    drift,
    errors,
    headers,
    health,
    language,
    meta,
    padding,
    prediction,
    support,
)
from soulsync.api.state import EXTENSION, ApiState
from soulsync.inference.screening import Screener
from soulsync.metrics import LiveCounts


def init_app(app: Flask, screener: Screener, live: LiveCounts) -> None:
    """The documented API (flask-smorest), the docs pages, CORS and response headers."""
    docs.configure(app)
    api = errors.ServiceApi(app)
    language.document(api.spec)
    answers.document(api.spec)
    for module in (meta, prediction, drift, health):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    speeches = language.init_app(app, support.blocks(app.config))
    reply_size = padding.measure(app, speeches.all(), screener)
    app.extensions[EXTENSION] = ApiState(api, screener, live, reply_size)
    with language.speaking_as(speeches.unasked):  # the replies of a client that asks for none
        prediction.document_examples(api.spec, screener)
    headers.init_app(app)


def openapi_document(app: Flask) -> dict:
    """The OpenAPI document of an app built by create_app, as `/openapi.json` serves it."""
    return app.extensions[EXTENSION].api.spec.to_dict()

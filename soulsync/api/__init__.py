"""The HTTP layer: blueprints and their schemas. It reaches the model only through the
predictor stored in `app.extensions`, and knows nothing of TensorFlow."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from soulsync.api import docs, health, meta, prediction


def register_blueprints(app: Flask, api: Api) -> None:
    """The API's blueprints (documented in the OpenAPI spec) and the docs pages (not)."""
    for module in (meta, prediction, health):
        api.register_blueprint(module.blp)
    app.extensions[docs.API_EXTENSION] = api
    app.register_blueprint(docs.blp)

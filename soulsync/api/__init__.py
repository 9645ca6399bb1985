"""The HTTP layer: blueprints and their schemas. It reaches the model only through the
predictor stored in `app.extensions`, and knows nothing of TensorFlow."""

from __future__ import annotations

from flask_smorest import Api

from soulsync.api import health, meta, prediction


def register_blueprints(api: Api) -> None:
    for module in (meta, prediction, health):
        api.register_blueprint(module.blp)

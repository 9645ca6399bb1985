"""SoulSync model service: depression-risk screening behind a documented HTTP API.

`create_app()` is the only builder; importing the package does nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

from flask import Flask

try:
    __version__ = metadata.version("soulsync")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service: settings, logging, API and docs, the loaded model, blueprints.

    Raises ModelLoadError when the model cannot be served: the service never starts half-ready.
    """
    from soulsync import config as settings
    from soulsync.api import register_blueprints
    from soulsync.extensions import (
        configure_logging,
        register_extensions,
        register_predictor,
        register_response_headers,
    )

    app = Flask(__name__)
    app.config.from_mapping(settings.from_environment())
    if config:
        app.config.from_mapping(config)
    configure_logging(app)
    api = register_extensions(app)
    register_predictor(app)
    register_blueprints(app, api)
    register_response_headers(app)
    return app

"""The pieces the factory wires in, one function each."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response
from flask_cors import CORS
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from soulsync import observability, security
from soulsync.api.docs import SWAGGER_UI_ASSETS_URL
from soulsync.api.prediction import PREDICTOR_EXTENSION
from soulsync.api.schemas import NOTICE
from soulsync.inference.predictor import Predictor

logger = logging.getLogger("soulsync")

DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
VALIDATION_MESSAGE = (
    "Some fields are missing or invalid: each is named under errors, by location (json, query)."
)

API_DESCRIPTION = f"""\
Depression-risk **screening** for the SoulSync companion app. After the app's daily ten-question
questionnaire, the backend sends the answers here and receives a screening result, a calibrated
probability, a risk level, the answers that drove the score and, whenever the person reported
suicidal thoughts or the result is Depression, where to get help.

**{NOTICE}**

The questions, their codes and labels are served by `GET /questionnaire`. Errors share one
shape: `{{"code", "status", "message", "errors"}}`; a validation error (422) names each bad field
under `errors.json` with what it accepts.
"""


class ServiceApi(Api):
    """flask-smorest's Api, with a `message` in every error body (and `Allow` on a 405)."""

    def handle_http_exception(self, error: HTTPException) -> tuple[dict, int, dict]:
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = VALIDATION_MESSAGE if code == 422 else error.description
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**headers, "Allow": ", ".join(error.valid_methods)}
        return payload, code, headers


def register_extensions(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "SoulSync model service")
    from soulsync import __version__

    app.config.setdefault("API_VERSION", __version__)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    # Swagger UI from assets this service serves itself (flask-swagger-ui's package), never a
    # CDN; no call to the public validator either.
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", SWAGGER_UI_ASSETS_URL)
    app.config.setdefault(
        "OPENAPI_SWAGGER_UI_CONFIG", {"validatorUrl": None, "displayRequestDuration": True}
    )
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        security.document(
            {"info": {"description": API_DESCRIPTION, "title": "SoulSync model service"}}
        ),
    )
    api = ServiceApi(app)
    security.init_app(app)
    CORS(app, origins=app.config["CORS_ORIGINS"])
    return api


def register_predictor(app: Flask) -> None:
    """Load and warm up the model once for this process."""
    predictor = Predictor.load(Path(app.config["MODEL_PATH"]), app.config["TOP_FACTORS"])
    app.extensions[PREDICTOR_EXTENSION] = predictor
    observability.MODEL_INFO.labels(predictor.version, predictor.backend.name).set(1)
    observability.MODEL_LOAD_SECONDS.set(predictor.load_seconds)
    logger.info(
        "model %s loaded from %s (%s backend) in %.3f s",
        predictor.version,
        predictor.backend.path.name,
        predictor.backend.name,
        predictor.load_seconds,
        extra={"fields": {"model_version": predictor.version}},
    )


def register_response_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        # Nothing else sets these, so they are added without a look-up (this runs on every
        # request; Headers.setdefault costs several times more).
        headers = response.headers
        headers.add("X-Content-Type-Options", "nosniff")
        headers.add("X-Frame-Options", "DENY")
        headers.add("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            headers.add("Content-Security-Policy", DOCS_CSP)  # docs load nothing from elsewhere
        elif "Cache-Control" not in headers:
            headers.add("Cache-Control", "no-store")
        return response


def configure_logging(app: Flask) -> None:
    """JSON lines on stdout, an access line per request; request bodies are never logged."""
    observability.configure_logging(app.config["LOG_LEVEL"])
    observability.init_app(app)

"""Optional API keys: off by default (as on the old service); when SOULSYNC_API_KEYS is set,
every endpoint but the health checks and the docs pages needs one in `X-API-Key`."""

from __future__ import annotations

import hmac

from flask import Flask, request
from flask_smorest import abort

from soulsync import texts
from soulsync.config import (
    API_KEY_HEADER,
    KEY_RULE,
    OPEN_PATHS,
    OPERATOR_PATHS,
    on_metrics_port,
)

SECURITY_SCHEME = "ApiKeyAuth"


def key_is_valid(sent: str, keys: list[str]) -> bool:
    """Compare with every configured key in constant time, without stopping at a match."""
    sent_bytes = sent.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(sent_bytes, key.encode())
    return matched


def init_app(app: Flask) -> None:
    """Check keys before every request, when there are keys: without them, nothing runs."""
    keys = list(app.config["API_KEYS"])
    if not keys:
        return

    @app.before_request
    def require_api_key() -> None:
        if request.method == "OPTIONS":  # CORS preflights carry no custom headers
            return
        path = request.path
        if path.startswith(OPEN_PATHS):
            return
        if path in OPERATOR_PATHS and on_metrics_port(app.config, request.environ):
            return  # the loopback-only metrics port: the platform's collector, not a client
        sent = request.headers.get(API_KEY_HEADER)
        if sent is None:
            abort(
                401,
                message=texts.KEY_MISSING.format(header=API_KEY_HEADER),
                headers={"WWW-Authenticate": API_KEY_HEADER},
            )
        if not key_is_valid(sent, keys):
            abort(401, message=texts.KEY_INVALID, headers={"WWW-Authenticate": API_KEY_HEADER})


def document(spec_options: dict) -> dict:
    """The security scheme for the OpenAPI document: a key that may be required."""
    return {
        **spec_options,
        "components": {
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": API_KEY_HEADER,
                    "description": KEY_RULE,
                }
            }
        },
        # Either no key (the default deployment) or the key.
        "security": [{}, {SECURITY_SCHEME: []}],
    }

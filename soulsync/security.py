"""Optional API keys: off by default (as on the old service); when SOULSYNC_API_KEYS is set,
every endpoint but the health checks and the docs pages needs one in `X-API-Key`."""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request
from flask_smorest import abort

API_KEY_HEADER = "X-API-Key"
SECURITY_SCHEME = "ApiKeyAuth"
#: Open without a key: Cloud Run's probes, and the documentation (which holds no data).
OPEN_PATHS = ("/healthz", "/readyz", "/docs", "/reference", "/openapi.json")


def key_is_valid(sent: str, keys: list[str]) -> bool:
    """Compare with every configured key in constant time, without stopping at a match."""
    sent_bytes = sent.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(sent_bytes, key.encode())
    return matched


def init_app(app: Flask) -> None:
    @app.before_request
    def require_api_key() -> None:
        keys = current_app.config["API_KEYS"]
        if not keys or request.method == "OPTIONS":  # CORS preflights carry no custom headers
            return
        if request.path.startswith(OPEN_PATHS):
            return
        metrics_port = current_app.config["METRICS_PORT"]
        if metrics_port and request.environ.get("SERVER_PORT") == str(metrics_port):
            return  # the loopback-only metrics port: the platform's collector, not a client
        sent = request.headers.get(API_KEY_HEADER)
        if sent is None:
            abort(
                401,
                message=f"This service needs an API key in the {API_KEY_HEADER} header.",
                headers={"WWW-Authenticate": API_KEY_HEADER},
            )
        if not key_is_valid(sent, keys):
            abort(
                401,
                message="The API key is not valid.",
                headers={"WWW-Authenticate": API_KEY_HEADER},
            )


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
                    "description": "Required on every endpoint but /healthz and /readyz when the "
                    "service is configured with API keys (SOULSYNC_API_KEYS); off by "
                    "default.",
                }
            }
        },
        # Either no key (the default deployment) or the key.
        "security": [{}, {SECURITY_SCHEME: []}],
    }

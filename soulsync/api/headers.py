"""Response headers every reply carries (security, and the language a reply speaks), and CORS."""

from __future__ import annotations

from flask import Flask, Response
from flask_cors import CORS

from soulsync.api import language
from soulsync.setting_values import cors_origins

#: The documentation pages load everything from this origin and nothing from any other.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def security_headers(response: Response) -> Response:
    # Nothing else sets these, so they are added without a look-up (this runs on every
    # request; Headers.setdefault costs several times more).
    headers = response.headers
    headers.add("X-Content-Type-Options", "nosniff")
    headers.add("X-Frame-Options", "DENY")
    headers.add("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        headers.add("Content-Security-Policy", DOCS_CSP)
    elif "Cache-Control" not in headers:
        headers.add("Cache-Control", "no-store")
    return response


def reply_headers(response: Response) -> Response:
    """What every reply says in its headers: the security headers, and the language of a reply
    that spoke (one after_request hook for both: each hook costs its own call on every
    request)."""
    return language.name_in(security_headers(response))


def init_app(app: Flask) -> None:
    origins = app.config["CORS_ORIGINS"]
    if origins:  # SOULSYNC_CORS_ORIGINS=none: no CORS, nothing run per request
        # always_send=False: no CORS headers on requests without an Origin header (servers,
        # probes): only browsers need them, and they always send Origin across origins.
        CORS(app, origins=cors_origins(origins), always_send=False)
    app.after_request(reply_headers)

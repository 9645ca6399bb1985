"""One error shape for every failure: `{"code", "status", "message", "errors"}`, as JSON."""

from __future__ import annotations

from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed

VALIDATION_MESSAGE = (
    "Some fields are missing or invalid: each is named under errors, by location (json, query)."
)

#: The 422 reply for an invalid answer, as the docs show it.
VALIDATION_ERROR_EXAMPLE = {
    "code": 422,
    "status": "Unprocessable Entity",
    "message": VALIDATION_MESSAGE,
    "errors": {"json": {"Pressure": ["Invalid value 9: expected an integer from 1 to 5."]}},
}


class ServiceApi(Api):
    """flask-smorest's Api, with a `message` in every error body (and `Allow` on a 405)."""

    def handle_http_exception(self, error: HTTPException) -> tuple[dict, int, dict]:
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = VALIDATION_MESSAGE if code == 422 else error.description
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**headers, "Allow": ", ".join(error.valid_methods)}
        return payload, code, headers

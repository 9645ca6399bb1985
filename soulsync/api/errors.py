"""One error shape for every failure: `{"code", "status", "message", "errors"}`, as JSON, in the
language the client asked for (`message` and every message under `errors`; `code`, `status`
and the keys of `errors` are for programs and stay as they are)."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from soulsync import texts
from soulsync.api import language
from soulsync.translations import Message

VALIDATION_MESSAGE = texts.INVALID_FIELDS

#: The 422 reply for an invalid answer, as the docs show it.
VALIDATION_ERROR_EXAMPLE = {
    "code": 422,
    "status": "Unprocessable Entity",
    "message": VALIDATION_MESSAGE,
    "errors": {"json": {"Pressure": ["Invalid value 9: expected an integer from 1 to 5."]}},
}


def default_message(code: int) -> Message | None:
    """The service's own sentence for an error that the code raising it did not word."""
    if code == 413:
        return texts.TOO_LARGE.format(limit=current_app.config["MAX_CONTENT_LENGTH"])
    return {
        400: texts.BAD_REQUEST,
        404: texts.NOT_FOUND,
        405: texts.METHOD_NOT_ALLOWED,
        422: texts.INVALID_FIELDS,
        500: texts.INTERNAL_ERROR,
    }.get(code)


class ServiceApi(Api):
    """flask-smorest's Api (its documented error handler), with a `message` of the service's own
    in every error body, said in the reply's language, and `Allow` on a 405."""

    def handle_http_exception(self, error: HTTPException) -> tuple[dict, int, dict]:
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = default_message(code) or error.description
        payload = language.for_request().say(payload)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**(headers or {}), "Allow": ", ".join(error.valid_methods)}
        return payload, code, headers

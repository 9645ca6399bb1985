"""Reading JSON bodies strictly, so that nothing a client sends can become a 500, no body can
mean two things, and no number means what it only happens to convert to."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

from flask import Request, request
from flask_smorest import abort
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

T = TypeVar("T")


class _Rejected(ValueError):
    """A body that is JSON to Python's parser but not to RFC 8259, or ambiguous."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Which of two values a reader keeps is implementation-defined: refuse to guess.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Rejected(f"The JSON body repeats the key {json.dumps(key)[:60]}.")
        result[key] = value
    return result


def _no_constants(name: str) -> NoReturn:
    raise _Rejected(f"The JSON body holds {name}, which is not JSON.")


def parse_strict_json(data: bytes) -> Any:
    """Standard JSON only: no NaN or Infinity, no repeated keys. A number with a fraction or an
    exponent is read exactly (a Decimal), so 1e-400 is not taken for 0 nor 2.0000000000000001
    for 2."""
    return json.loads(
        data.decode("utf-8"),
        object_pairs_hook=_no_duplicate_keys,
        parse_constant=_no_constants,
        parse_float=Decimal,
    )


def read_json_body(request: Request) -> Any:
    """The request's JSON body, or a clear 4xx: 415 for a body not sent as JSON, 400 for one
    that cannot be read or is not strict JSON, 413 for one over the size limit (with or without
    Content-Length)."""
    if not request.is_json:
        abort(415, message="Send the body as JSON, with Content-Type: application/json.")
    try:
        data = request.get_data(cache=True)
    except HTTPException:
        raise  # the size limit's 413
    except Exception:  # the server's framing errors (a malformed chunked body, say)
        # Closed after the reply: what is left of the body cannot be read as the next request.
        abort(400, message="The request body could not be read.", headers={"Connection": "close"})
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        # A streamed (chunked) body is cut at the limit rather than refused: refuse it here,
        # as a body announced with Content-Length would be.
        abort(413, message=f"The request body is larger than {limit} bytes.")
    if not data.strip():
        abort(400, message="The request body is empty: send a JSON object.")
    try:
        return parse_strict_json(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        abort(400, message=f"The request body is not valid JSON ({error.__class__.__name__}).")
    except _Rejected as error:
        abort(400, message=str(error))
    except RecursionError:
        abort(400, message="The JSON body is nested too deeply.")
    except ValueError:  # e.g. an integer of more digits than Python will convert
        abort(400, message="The JSON body holds a value that cannot be read.")


def load_body(schema: Schema, fast: Callable[[Any], T | None]) -> T:
    """The request's body as `schema` loads it. `fast` reads a valid body by the same rules
    without marshmallow (a tenth of the cost); anything it cannot read goes through the schema,
    whose 422 names each bad field under `errors.json`, as flask-smorest's arguments did."""
    body = read_json_body(request)
    loaded = fast(body)
    if loaded is not None:
        return loaded
    try:
        return schema.load(body)
    except ValidationError as error:
        abort(422, exc=error, messages={"json": error.messages})

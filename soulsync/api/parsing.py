"""How every request body is read: strict JSON, as the parser of every blueprint.

flask-smorest hands each `@blp.arguments(..., location="json")` to webargs; the blueprints here
use a webargs parser whose `json` location is this strict reader (webargs' documented
`location_loader` hook), so that nothing a client sends can become a 500, no body can mean two
things, and no number means what it only happens to convert to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, NoReturn

from flask import Request, current_app
from flask_smorest import abort
from marshmallow import Schema
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from soulsync import event_loop, texts


class _Rejected(ValueError):
    """A body that is JSON to Python's parser but not to RFC 8259, or ambiguous."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Which of two values a reader keeps is implementation-defined: refuse to guess.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Rejected(texts.REPEATED_KEY.format(key=json.dumps(key)[:60]))
        result[key] = value
    return result


def _no_constants(name: str) -> NoReturn:
    raise _Rejected(texts.NOT_JSON_CONSTANT.format(name=name))


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


#: A body sent without Content-Length (chunked) costs its server a parse per chunk, however
#: small the chunks: beyond this many bytes, a body must say its length.
CHUNKED_BODY_BYTES = 16 * 1024
#: A chunked body is read this many bytes at a time, the other connections getting their turn
#: between pieces, and the request's deadline its chance: each chunk's line, extensions
#: included, costs the server a parse, and a body in one-byte chunks would otherwise hold the
#: loop for as long as it took to arrive.
CHUNKED_PIECE_BYTES = 64


@dataclass(frozen=True)
class BodyLimits:
    """What one endpoint's body may be: its bytes, and its JSON objects and arrays (counted
    before it is parsed, so that no body can buy work by its shape; None where the bytes allowed
    are too few for its shape to buy any)."""

    max_bytes: int
    max_containers: int | None

    def describe(self) -> str:
        """Every limit the strict reader holds a body to, in words, for the OpenAPI document."""
        chunked = (
            f" A body over {CHUNKED_BODY_BYTES:,} bytes must be sent with Content-Length (411 "
            "without it)."
            if self.max_bytes > CHUNKED_BODY_BYTES
            else ""
        )
        return (
            f"Sent as application/json (415 otherwise), at most {self.max_bytes:,} bytes (413 "
            f"beyond, naming the limit).{chunked} Strict JSON (RFC 8259; 400 otherwise): no NaN "
            "or Infinity, no key given twice, no number too long or too large to read, "
            f"nesting within Python's limit{self._containers()}. The limits are the service's "
            "defaults; its settings may change them (docs/configuration.md)."
        )

    def _containers(self) -> str:
        if self.max_containers is None:
            return ""
        return (
            f"; and at most {self.max_containers:,} JSON objects and arrays, the body itself "
            "included, counted as the characters { and [ anywhere in it, inside strings too, "
            "before it is parsed (400 beyond)"
        )


def read_json_body(request: Request, limits: BodyLimits) -> Any:
    """The request's JSON body, or a clear 4xx: 415 for a body not sent as JSON, 413 for one
    over the endpoint's limit, 411 for a long one sent without its length, 400 for one that
    cannot be read or is not strict JSON."""
    if not request.is_json:
        abort(415, message=texts.NOT_JSON)
    chunked = request.content_length is None
    allowed = min(limits.max_bytes, CHUNKED_BODY_BYTES) if chunked else limits.max_bytes
    request.max_content_length = allowed  # Flask's per-request limit
    try:
        data = _read_in_turns(request) if chunked else request.get_data(cache=True)
    except HTTPException as error:
        if error.code == 413:
            _too_large(chunked, limits, allowed)
        raise
    except Exception:  # the server's framing errors (a malformed chunked body, say)
        # gunicorn then closes the connection: where the next request would start is unknown.
        abort(400, message=texts.UNREADABLE_BODY)
    if chunked and len(data) >= allowed:
        # A streamed (chunked) body is cut at the limit rather than refused: refuse it here,
        # as a body announced with Content-Length would be.
        _too_large(chunked, limits, allowed)
    event_loop.body_read(request.environ)
    if not data.strip():
        abort(400, message=texts.EMPTY_BODY)
    containers = limits.max_containers
    if containers is not None and data.count(b"{") + data.count(b"[") > containers:
        abort(400, message=texts.TOO_MANY_CONTAINERS.format(limit=containers))
    try:
        return parse_strict_json(data)
    except json.JSONDecodeError as error:
        where = texts.JSON_BROKEN_AT.format(line=error.lineno, column=error.colno)
        abort(400, message=texts.INVALID_JSON.format(problem=where))
    except UnicodeDecodeError:
        abort(400, message=texts.INVALID_JSON.format(problem=texts.NOT_UTF8))
    except _Rejected as error:
        (message,) = error.args  # the Message itself, to be said in the reply's language
        abort(400, message=message)
    except RecursionError:
        abort(400, message=texts.TOO_DEEP)
    except (ValueError, ArithmeticError):  # an integer or an exponent beyond what Python reads
        abort(400, message=texts.UNREADABLE_VALUE)


def _read_in_turns(request: Request) -> bytes:
    """A chunked body, CHUNKED_PIECE_BYTES at a time (up to the request's limit), taking a turn
    between pieces (soulsync/event_loop.py)."""
    stream, pieces = request.stream, []
    while piece := stream.read(CHUNKED_PIECE_BYTES):
        pieces.append(piece)
        event_loop.take_turn()
    return b"".join(pieces)


def _too_large(chunked: bool, limits: BodyLimits, allowed: int) -> NoReturn:
    """413 for a body over the endpoint's limit; 411 for one within it but sent in chunks. The
    rest of the body is not read: beyond event_loop.LEFTOVER_BYTES the server closes the
    connection."""
    if chunked and allowed < limits.max_bytes:
        abort(411, message=texts.LENGTH_REQUIRED.format(limit=allowed))
    abort(413, message=texts.TOO_LARGE.format(limit=limits.max_bytes))


class StrictJsonParser(FlaskParser):
    """webargs' Flask parser, with its own location map: registering a loader on it changes
    this parser only, not every webargs parser in the process."""

    __location_map__: ClassVar[dict[str, str | Callable]] = {**FlaskParser.__location_map__}


parser = StrictJsonParser()


@parser.location_loader("json")
def load_strict_json(request: Request, schema: Schema) -> Any:
    """The body, within the limits its schema sets for the app's settings (`body_limits`).
    webargs hands over Flask's request proxy: the request itself is taken from it once
    (Flask's documented way past the proxy), as the reader asks it several things."""
    current = request._get_current_object()
    return read_json_body(current, schema.body_limits(current_app.config))

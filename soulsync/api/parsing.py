"""Reading JSON bodies strictly, so that nothing a client sends can become a 500 and no body
can mean two things."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import Request
from flask_smorest import abort
from webargs.flaskparser import FlaskParser


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
    """Standard JSON only: no NaN or Infinity, no repeated keys."""
    return json.loads(
        data.decode("utf-8"),
        object_pairs_hook=_no_duplicate_keys,
        parse_constant=_no_constants,
    )


class JsonBodyParser(FlaskParser):
    """webargs' parser, with clear 400s for an empty, malformed, ambiguous or absurdly nested
    body."""

    def _raw_load_json(self, req: Request) -> Any:
        data = req.get_data(cache=True)
        if not data.strip():
            abort(400, message="The request body is empty: send a JSON object.")
        try:
            return parse_strict_json(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise  # webargs turns these into _handle_invalid_json_error
        except _Rejected as error:
            abort(400, message=str(error))
        except RecursionError:
            abort(400, message="The JSON body is nested too deeply.")
        except ValueError:  # e.g. an integer of more digits than Python will convert
            abort(400, message="The JSON body holds a value that cannot be read.")

    def _handle_invalid_json_error(
        self,
        error: json.JSONDecodeError | UnicodeDecodeError,
        req: Request,
        *args: Any,
        **kwargs: Any,
    ) -> NoReturn:
        abort(400, message=f"The request body is not valid JSON ({error.__class__.__name__}).")

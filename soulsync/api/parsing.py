"""Reading JSON bodies so that nothing a client sends can become a 500."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import Request
from flask_smorest import abort
from webargs.core import parse_json
from webargs.flaskparser import FlaskParser


class JsonBodyParser(FlaskParser):
    """webargs' parser, with clear 400s for an empty, malformed or absurdly nested body."""

    def _raw_load_json(self, req: Request) -> Any:
        data = req.get_data(cache=True)
        if not data.strip():
            abort(400, message="The request body is empty: send a JSON object.")
        try:
            return parse_json(data)
        except json.JSONDecodeError:
            raise  # webargs turns it into _handle_invalid_json_error
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

"""The project's blueprint: flask-smorest's, reading every JSON body strictly (api/parsing.py)."""

from __future__ import annotations

import flask_smorest

from soulsync.api.parsing import parser


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, whose `arguments` read JSON bodies strictly."""

    ARGUMENTS_PARSER = parser

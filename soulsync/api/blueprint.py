"""The project's blueprint: flask-smorest's, reading every JSON body strictly (api/parsing.py)
and making the views whose replies speak to a person speak the reader's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_smorest
from flask import current_app, request
from flask_smorest import abort

from soulsync import texts
from soulsync.api import language
from soulsync.api.parsing import parser
from soulsync.config import on_metrics_port


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, whose `arguments` read JSON bodies strictly."""

    ARGUMENTS_PARSER = parser

    def speaks(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """A view (above its other decorators) whose reply speaks to a person: the view and its
        dump run in the reader's language, the reply says which in its headers, and the
        operation documents the two ways to ask for one (`lang`, Accept-Language)."""
        return self.doc(parameters=language.PARAMETERS)(language.speaking(view))


def operators_only() -> None:
    """404 for a view of operators' figures (/metrics, /monitoring) asked for on the service's
    port, where clients are, when the service has a metrics port of its own."""
    config = current_app.config
    if config["METRICS_PORT"] and not on_metrics_port(config, request.environ):
        abort(404, message=texts.NOT_FOUND)

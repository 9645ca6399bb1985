"""The application factory: `create_app()` is the only builder of the service.

It reads like a table of contents: settings, logs and metrics, API keys, the model, the API.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from flask import Flask, Request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import RequestRedirect

from soulsync import api, config, event_loop, observability, security
from soulsync.inference.drift import SCORE_EDGES
from soulsync.inference.drift_counts import CountLayout
from soulsync.inference.model_folder import DEFAULT_MODEL_PATH
from soulsync.inference.screening import Screener
from soulsync.metrics import LIVE_COUNTS, LiveCounts, ServiceMetrics

logger = logging.getLogger("soulsync")


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON, written by orjson in a fifth of the standard library's time: the same
    documents (keys sorted, compact), but UTF-8 written as is rather than escaped, and integer
    keys (a 422's list indices) sorted as text."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        indent = kwargs.pop("indent", None)
        sort_keys = kwargs.pop("sort_keys", self.sort_keys)
        if kwargs.pop("separators", (",", ":")) != (",", ":") or kwargs or indent not in (None, 2):
            return super().dumps(obj, indent=indent, sort_keys=sort_keys, **kwargs)
        option = orjson.OPT_NON_STR_KEYS  # marshmallow names list items by index (int)
        option |= (orjson.OPT_SORT_KEYS if sort_keys else 0) | (
            orjson.OPT_INDENT_2 if indent else 0
        )
        return orjson.dumps(obj, default=self.default, option=option).decode()


class ServiceFlask(Flask):
    """Flask, with orjson for its JSON, whose redirects (`/prediction` to `/prediction/`) name a
    path, never the Host header a client sent, and which asks whether a function is a coroutine
    function once per function."""

    json_provider_class = OrjsonProvider
    #: The most functions whose answer an app keeps: its hooks and views, with room to spare
    #: (beyond it, a function is asked each time, as Flask does).
    PLAIN_FUNCTIONS_KEPT = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Whether each function this app was asked about is a plain (not a coroutine)
        #: function; kept on the app, so that it goes with it.
        self._plain_functions: dict[Callable[..., Any], bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's, which asks it of every hook and every layer of a view on every request;
        the answer never changes (Flask documents this method as the one to override)."""
        key = getattr(func, "__func__", func)  # a method: its function
        try:
            plain = self._plain_functions.get(key)
            if plain is None:
                plain = not inspect.iscoroutinefunction(key)
                if len(self._plain_functions) < self.PLAIN_FUNCTIONS_KEPT:
                    self._plain_functions[key] = plain
        except TypeError:  # an unhashable callable: asked each time, by Flask
            plain = False
        return func if plain else super().ensure_sync(func)

    def raise_routing_exception(self, request: Request) -> None:
        error = request.routing_exception
        if isinstance(error, RequestRedirect):
            target = urlsplit(error.new_url)
            location = target.path + (f"?{target.query}" if target.query else "")
            raise RequestRedirect(location)
        super().raise_routing_exception(request)


def create_app(settings: Mapping[str, Any] | None = None) -> Flask:
    """Build the service: settings, logging, API keys, the loaded model, the API and its docs.

    Raises ConfigError for a setting that cannot be read or settings that do not go together,
    and ModelLoadError for a model that cannot be served: the service never starts half-ready.
    """
    app = ServiceFlask(__name__)
    app.config.from_mapping(config.from_environment())
    if settings:
        app.config.from_mapping(settings)
    config.check_support(app.config)
    observability.init_app(app)
    security.init_app(app)
    service_metrics = observability.service_metrics(app)
    screener = load_screener(app, service_metrics)
    live = app.extensions[LIVE_COUNTS] = count_screenings(screener, service_metrics)
    api.init_app(app, screener, live)
    if event_loop.running_on_gevent():  # under gunicorn's gevent worker
        app.wsgi_app = event_loop.RequestDeadline(app.wsgi_app, event_loop.REQUEST_SECONDS)
        server = config.server_settings()
        event_loop.watch_lag(service_metrics, server["PORT"], server["GUNICORN_WORKER_CONNECTIONS"])
    return app


def count_screenings(screener: Screener, service_metrics: ServiceMetrics) -> LiveCounts:
    """Count what the screener sees (answers, scores, results per group) for /metrics and
    /monitoring: aggregates only, with noise."""
    reference = screener.card.drift_reference
    edges = reference.score_edges if reference is not None else SCORE_EDGES
    return LiveCounts(CountLayout(edges), screener.version, service_metrics)


def load_screener(app: Flask, service_metrics: ServiceMetrics) -> Screener:
    """Load and warm up the model once for this process, and say so in the log and metrics."""
    path = Path(app.config["MODEL_PATH"] or DEFAULT_MODEL_PATH)
    screener = Screener.load(path, app.config["TOP_FACTORS"])
    service_metrics.model_loaded(screener.version, screener.backend_name, screener.load_seconds)
    logger.info(
        "model %s loaded from %s (%s backend) in %.3f s",
        screener.version,
        path.name,
        screener.backend_name,
        screener.load_seconds,
        extra={"fields": {"model_version": screener.version}},
    )
    return screener

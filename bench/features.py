"""What each per-request feature of POST /predict costs, in-process (part of `make bench`).

Each piece runs alone, many times, in this process, and its CPU time per call is the minimum over
rounds (the least disturbed by this shared machine); the whole request (the WSGI app called with
the contract example) and a bare Flask floor run the same way. What the pieces do not add up to
is Flask's and flask-smorest's own machinery (request context, dispatch, decorators).

    .venv/bin/python bench/features.py
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
# Metrics as under gunicorn: prometheus-client's multiprocess files.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="soulsync-features-")

import floor_app  # noqa: E402
from flask import Response  # noqa: E402

from soulsync.api import language  # noqa: E402
from soulsync.api.answers import QuestionnaireSchema  # noqa: E402
from soulsync.api.headers import security_headers  # noqa: E402
from soulsync.api.parsing import BodyLimits, parse_strict_json, read_json_body  # noqa: E402
from soulsync.api.replies import PredictionSchema  # noqa: E402
from soulsync.api.state import EXTENSION  # noqa: E402
from soulsync.app import create_app  # noqa: E402
from soulsync.observability import service_metrics  # noqa: E402
from soulsync.questionnaire import CONTRACT_EXAMPLE  # noqa: E402
from soulsync.security import key_is_valid  # noqa: E402

BODY = json.dumps(CONTRACT_EXAMPLE).encode()
ROUNDS, CALLS = 9, 2000
KEY = "a-key-of-twenty-chars"


def environ(origin: str | None = None, key: str | None = None) -> dict[str, Any]:
    found = {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/predict",
        "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)), "HTTP_HOST": "127.0.0.1:8080",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(BODY), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }  # fmt: skip
    if origin:
        found["HTTP_ORIGIN"] = origin
    if key:
        found["HTTP_X_API_KEY"] = key
    return found


def cost_us(function: Callable[[], Any], calls: int = CALLS) -> float:
    """CPU microseconds per call: the least over ROUNDS rounds."""
    for _ in range(calls // 10):
        function()
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(calls):
            function()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


def alternating(calls: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Each call's CPU microseconds, least over ROUNDS rounds taken in turn, so that a slow
    moment of the machine meets every one of them."""
    for function in calls.values():
        for _ in range(CALLS // 10):
            function()
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(ROUNDS):
        for name, function in calls.items():
            started = time.process_time()
            for _ in range(CALLS):
                function()
            best[name] = min(best[name], (time.process_time() - started) / CALLS * 1e6)
    return best


def whole(app: Any, key: str | None = None) -> Callable[[], None]:
    def call() -> None:
        result = app(environ(key=key), lambda status, headers, exc=None: None)
        b"".join(result)
        getattr(result, "close", lambda: None)()

    return call


def main() -> None:
    app = create_app()
    keyed = create_app({"API_KEYS": [KEY]})
    with open(os.devnull, "w") as devnull:
        for handler in logging.getLogger("soulsync").handlers:
            handler.setStream(devnull)
        state = app.extensions[EXTENSION]
        metrics = service_metrics(app)
        answers = QuestionnaireSchema().load(CONTRACT_EXAMPLE)
        screened = state.screener.screen([answers])
        (screening,) = screened.screenings
        reply = PredictionSchema()
        with language.speaking_as(app.extensions[language.EXTENSION].unasked):
            dumped = reply.dump(screening)
        questionnaire = QuestionnaireSchema()
        access = logging.getLogger("soulsync.access")
        fields = {"httpRequest": {"requestMethod": "POST", "requestUrl": "/predict"}}
        limits = BodyLimits(4096, 8)
        cors = next(f for f in app.after_request_funcs[None] if "cors" in f.__name__)

        def in_request(function: Callable[[], Any], origin: str | None = None) -> Callable:
            def call() -> None:
                with app.request_context(environ(origin)):
                    function()

            return call

        def log_line() -> None:
            record = access.makeRecord(
                access.name, logging.INFO, __file__, 0, "%s %s %s", ("POST", "/predict", 200),
                None, extra={"fields": fields},
            )  # fmt: skip
            access.handle(record)

        speeches = app.extensions[language.EXTENSION]
        with app.app_context(), language.speaking_as(speeches.unasked):
            context_alone = cost_us(in_request(lambda: None))
            pieces = {
                "routing (match POST /predict)": cost_us(
                    lambda: app.url_map.bind("127.0.0.1").match("/predict", "POST")
                ),
                "reading the body (size, shape, strict JSON)": cost_us(
                    in_request(lambda: read_json_body(__import__("flask").request, limits))
                )
                - context_alone,
                "of which the strict JSON parse": cost_us(lambda: parse_strict_json(BODY)),
                "validation (the questionnaire schema)": cost_us(
                    lambda: questionnaire.load(CONTRACT_EXAMPLE)
                ),
                "model (10 rows) and factors": cost_us(lambda: state.screener.screen([answers])),
                "reply (the prediction schema's dump)": cost_us(lambda: reply.dump(screening)),
                "JSON (orjson)": cost_us(lambda: app.json.dumps(dumped)),
                "access line (JSON, to a file)": cost_us(log_line),
                "request metrics (counter, histogram)": cost_us(
                    lambda: metrics.record_request("/predict", "POST", 200, 0.001)
                ),
                "drift counts (kept until published)": cost_us(
                    lambda: state.live.add(
                        screened.codes, screened.probabilities, screened.flagged
                    ),
                    calls=500,
                ),
                "security headers": cost_us(lambda: security_headers(Response("{}"))),
                "CORS, request without Origin": cost_us(in_request(lambda: cors(Response("{}"))))
                - context_alone,
                "CORS, request with Origin": cost_us(
                    in_request(lambda: cors(Response("{}")), origin="https://app.example")
                )
                - context_alone,
                "API keys off (the default)": 0.0,
                "API key checked": cost_us(lambda: key_is_valid(KEY, [KEY])),
            }
        total = {
            "POST /predict, whole (no keys)": cost_us(whole(app)),
            "POST /predict, whole, with a key configured and sent": cost_us(whole(keyed, KEY)),
            "floor: bare Flask, the same JSON parsed, a constant reply": cost_us(
                whole(floor_app.app)
            ),
        }
    print(f"in-process CPU per call, least of {ROUNDS} rounds (us):")
    for name, value in {**pieces, **total}.items():
        print(f"  {name:58s} {value:7.1f}")


if __name__ == "__main__":
    main()

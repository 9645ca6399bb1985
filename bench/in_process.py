"""The in-process side of the benches: the service's WSGI app (built by create_app, as a gunicorn
worker builds it) and the floor's, called directly, and pieces of the service's request path
called alone; each case timed in CPU time over segments of many calls.

A program of its own, started by the benches with the environment it needs set before anything
imports prometheus-client (PROMETHEUS_MULTIPROC_DIR: the metrics kept in files, as under
gunicorn):

    python -m bench.in_process --rounds 5 --calls 1000 --out FILE service floor

It writes to `--out`, as JSON, each segment's case and CPU seconds, in the order run. With
`--marks` it calls os.getppid() before each segment and after the last: under valgrind's
callgrind with `--dump-before=getppid` each segment's instructions are then a part of their own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, request

from bench import floor_app, smorest_floor_app
from bench.harness import in_turn, quiet_logs, serve_one, wsgi_request
from soulsync.api import language
from soulsync.api.answers import QuestionnaireSchema
from soulsync.api.padding import pad_reply, padded_to
from soulsync.api.parsing import load_strict_json
from soulsync.api.replies import PredictionSchema
from soulsync.api.state import EXTENSION as API_STATE
from soulsync.app import create_app
from soulsync.metrics import LIVE_COUNTS
from soulsync.observability import service_metrics
from soulsync.questionnaire import CONTRACT_EXAMPLE

INDONESIAN = {"Accept-Language": "id-ID,id;q=0.9"}
#: The whole requests' cases: the service, and the two floors it is measured against.
SERVICE, FLOOR, SMOREST_FLOOR = "service", "floor", "flask-smorest floor"


#: For a piece measured alone, the case whose cost its own includes and is not the piece's (a
#: request context, say): the piece's figure is its own less that case's.
BASELINES = {
    "body reading": "a request context",
    "schema load": "nothing",
    "screening": "nothing",
    "reply dump": "nothing",
    "reply padding": "a reply in an app context",
    "request metrics": "nothing",
    "drift counts": "nothing",
}
#: A case: one call of what is measured.
Case = Callable[[], object]


def whole_request(app: Callable, make_environ: Callable[[], dict]) -> Callable[[], object]:
    """One request served by `app`; the first answers 200, or the case is no measure."""
    status, _ = serve_one(app, make_environ())
    if not status.startswith("200"):
        raise RuntimeError(f"the app answered {status}")
    return lambda: serve_one(app, make_environ())


def cases(app: Flask) -> dict[str, Case]:
    contract = wsgi_request("/predict", CONTRACT_EXAMPLE)
    state = app.extensions[API_STATE]
    metrics = service_metrics(app)
    live = app.extensions[LIVE_COUNTS]
    questionnaire = QuestionnaireSchema()
    answers = questionnaire.load(CONTRACT_EXAMPLE)
    screened = state.screener.screen([answers])
    (screening,) = screened.screenings
    reply = PredictionSchema()
    with app.app_context():
        reply_body = app.json.response(reply.dump(screening)).get_data()

    def in_request(piece: Callable[[], object]) -> Callable[[], None]:
        def call() -> None:
            with app.request_context(contract()):
                piece()

        return call

    def in_app(piece: Callable[[], object]) -> Callable[[], None]:
        def call() -> None:
            with app.app_context():
                piece()

        return call

    def padded() -> None:
        padded_to(state.reply_size.screening)
        pad_reply(app.response_class(reply_body))

    return {
        SERVICE: whole_request(app, contract),
        "service, Accept-Language: id": whole_request(
            app, wsgi_request("/predict", CONTRACT_EXAMPLE, INDONESIAN)
        ),
        FLOOR: whole_request(floor_app.app, contract),
        SMOREST_FLOOR: whole_request(smorest_floor_app.app, contract),
        "nothing": lambda: None,
        "a request context": in_request(lambda: None),
        "a reply in an app context": in_app(lambda: app.response_class(reply_body)),
        "body reading": in_request(lambda: load_strict_json(request, questionnaire)),
        "schema load": lambda: questionnaire.load(CONTRACT_EXAMPLE),
        "screening": lambda: state.screener.screen([answers]),
        "reply dump": lambda: reply.dump(screening),
        "reply padding": in_app(padded),
        "request metrics": lambda: metrics.record_request("/predict", "POST", 200, 0.001),
        "drift counts": lambda: live.add(screened.codes, screened.probabilities, screened.flagged),
    }


def run(chosen: dict[str, Case], rounds: int, calls: int, marks: bool) -> list[tuple[str, float]]:
    """Each case `calls` times per segment, `rounds` segments each, the order rotating round by
    round so that a slow moment of the machine meets every case alike."""
    for case in chosen.values():  # warm-up: caches, schemas, the allocator
        for _ in range(max(10, calls // 10)):
            case()
    segments = []
    for number in range(rounds):
        for name in in_turn(list(chosen), number):
            function = chosen[name]
            if marks:
                os.getppid()
            started = time.process_time()
            for _ in range(calls):
                function()
            segments.append((name, time.process_time() - started))
    if marks:
        os.getppid()
    return segments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--marks", action="store_true", help="os.getppid() around each segment")
    parser.add_argument("--out", type=Path, required=True, help="where the figures go (JSON)")
    parser.add_argument("case", nargs="+")
    args = parser.parse_args(argv)
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        parser.error("PROMETHEUS_MULTIPROC_DIR must be set (the metrics as under gunicorn)")
    app = create_app()
    quiet_logs()
    with language.speaking_as(app.extensions[language.EXTENSION].unasked):
        every = cases(app)
        unknown = [name for name in args.case if name not in every]
        if unknown:
            parser.error(f"unknown cases {unknown}; known: {', '.join(every)}")
        wanted = set(args.case) | {BASELINES[name] for name in args.case if name in BASELINES}
        chosen = {name: every[name] for name in every if name in wanted}
        segments = run(chosen, args.rounds, args.calls, args.marks)
    args.out.write_text(json.dumps({"calls": args.calls, "segments": segments}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

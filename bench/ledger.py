"""The ledger: what each feature and server hook adds to a request served by gunicorn.conf.py.

The request is POST /predict with the contract example, the server gunicorn.conf.py with one
worker; the figures are instructions (callgrind: the steady figure on a shared machine) beside
CPU time.

Each feature is switched by the service's own settings (API keys, CORS, the log level that
writes the access line), by the request (a language asked for), or by leaving one of
gunicorn.conf.py's server hooks as gunicorn's default (bench/default_hook.py); the service's
code is never changed. The deadline is the service's own middleware (RequestDeadline) around
the floor. The flask-smorest floor (bench/smorest_floor_app.py) stands beside the floor: what
the design card's stack costs before any of the service's own work. What cannot be switched
off (request metrics, drift counts, reply padding, reading the body, and the request's own
work: the schema's load, the screening, the reply's dump) is measured alone, in-process
(bench/in_process.py), each piece less what it needs around it.

Instructions in the worker: gunicorn runs under `valgrind --tool=callgrind`, which dumps its
counts before each accept4(). The client sends each segment's `--calls` requests one after the
other on a connection of its own, so each segment is a part of its own (start-up and warm-up
left out), and the count per request is the same to a few instructions from one segment to the
next. The worker's timers (the loop-lag sampler, the accept queue's reading, gunicorn's
heartbeat) run by the wall clock while valgrind runs the worker many times slower: an idle
window measures what they cost a second, and each segment is charged that for its time. The
fair turn is also timed (event_loop.FAIR_TURN_WAIT, once the loop has not polled for
event_loop.FAIR_TURN_AFTER): at valgrind's pace it is taken after every request, at full speed
after few, so its row is its cost when taken.
In-process, callgrind dumps before each os.getppid(), which bench/in_process.py calls around its
segments.

CPU time: every server at full speed at once, wrk (one connection) on each kind of request for
`--seconds`, `--rounds` rounds in rotating order; the server's CPU time per request served.
A row's figure is the median over the rounds (segments) of the paired difference, with the
smallest and largest beside it.

    python -m bench ledger [--compare DIR] [--calls 300] [--segments 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench import floor_app
from bench.harness import (
    LOOPBACK,
    ROOT,
    Server,
    callgrind_parts,
    in_turn,
    require,
    run_in_process,
    served,
    wrk,
)
from bench.in_process import BASELINES
from soulsync.event_loop import REQUEST_SECONDS, RequestDeadline
from soulsync.questionnaire import CONTRACT_EXAMPLE

BODY = json.dumps(CONTRACT_EXAMPLE).encode()
KEY = "a-key-of-twenty-chars"
ORIGIN = "https://app.example"
INDONESIAN = {"Accept-Language": "id-ID,id;q=0.9"}
#: A client's requests, one after the other on one kept-alive connection (wrk's too).
CONNECTIONS = 1
WARM_UP = 200
#: How long the worker is left idle under callgrind, to measure what its timers cost.
IDLE_SECONDS = 5.0
IDLE = "idle worker, a second"
#: The most a mark's own part may cost (a connection accepted costs far less).
MARK_INSTRUCTIONS = 1_000_000


def floor_behind_the_deadline() -> RequestDeadline:
    """The floor's app behind the service's request deadline (gunicorn's app factory)."""
    return RequestDeadline(floor_app.app, REQUEST_SECONDS)


@dataclass(frozen=True, eq=False)
class Setup:
    """One gunicorn: gunicorn.conf.py of `root`, one worker, `env` over the defaults."""

    env: Mapping[str, str] = field(default_factory=dict)
    app: str = "wsgi:app"
    #: A server hook left as gunicorn's default.
    hook: str | None = None
    root: Path = ROOT

    def served(
        self,
        prefix: Sequence[str] = (),
        ready_within: float = 120,
        ready_every: float = 0.02,
        **env: str,
    ):
        hook = {"BENCH_DEFAULT_HOOK": self.hook} if self.hook else {}
        return served(
            app=self.app,
            root=self.root,
            config="python:bench.default_hook" if self.hook else None,
            prefix=prefix,
            ready_within=ready_within,
            ready_every=ready_every,
            WEB_CONCURRENCY="1",
            **{**hook, **self.env, **env},
        )


@dataclass(frozen=True)
class Kind:
    """A kind of request, sent to a setup's server."""

    name: str
    setup: Setup
    headers: Mapping[str, str] = field(default_factory=dict)


SERVICE = Setup()
CORS = Setup({"SOULSYNC_CORS_ORIGINS": ORIGIN})
FLOOR = Setup(app="bench.floor_app:app")
SMOREST_FLOOR = Setup(app="bench.smorest_floor_app:app")
KINDS = [
    Kind("service", SERVICE),
    Kind("service, Accept-Language: id", SERVICE, INDONESIAN),
    Kind("API keys", Setup({"SOULSYNC_API_KEYS": KEY}), {"X-API-Key": KEY}),
    Kind("CORS, Origin sent", CORS, {"Origin": ORIGIN}),
    Kind("CORS, no Origin", CORS),
    Kind("log level WARNING", Setup({"SOULSYNC_LOG_LEVEL": "WARNING"})),
    Kind("post_request default", Setup(hook="post_request")),
    Kind("pre_request default", Setup(hook="pre_request")),
    Kind("post_worker_init default", Setup(hook="post_worker_init")),
    Kind("floor", FLOOR),
    Kind("flask-smorest floor", SMOREST_FLOOR),
    Kind("floor behind the deadline", Setup(app="bench.ledger:floor_behind_the_deadline()")),
]
#: The ledger's rows: (what, the kind measured, the kind it is measured against or None).
ROWS = [
    ("POST /predict, the service as configured by default", "service", None),
    ("the floor (bench/floor_app.py), same gunicorn.conf.py", "floor", None),
    ("the service over the floor", "service", "floor"),
    ("the flask-smorest floor over the bare floor", "flask-smorest floor", "floor"),
    ("the service over the flask-smorest floor", "service", "flask-smorest floor"),
    ("language: Accept-Language: id (none asked: English)", "service, Accept-Language: id",
     "service"),
    ("API keys configured (SOULSYNC_API_KEYS), key sent", "API keys", "service"),
    ("CORS configured (SOULSYNC_CORS_ORIGINS), Origin sent", "CORS, Origin sent", "service"),
    ("CORS configured, a request without Origin", "CORS, no Origin", "service"),
    ("access line at INFO (against SOULSYNC_LOG_LEVEL=WARNING)", "service", "log level WARNING"),
    ("post_request hook: fair turn, lingering close", "service", "post_request default"),
    ("pre_request hook: the app may close the connection", "service", "pre_request default"),
    ("post_worker_init hook: the loop's poll watcher", "service", "post_worker_init default"),
    ("deadline (event_loop.RequestDeadline), on the floor", "floor behind the deadline", "floor"),
]  # fmt: skip
#: Pieces measured alone in-process: (what, bench/in_process.py's case).
PIECES = [
    ("reading the body (strict JSON, limits)", "body reading"),
    ("the questionnaire schema's load", "schema load"),
    ("the screening (model, factors)", "screening"),
    ("the reply schema's dump", "reply dump"),
    ("reply padding (api/padding.py)", "reply padding"),
    ("request metrics (counter, histogram)", "request metrics"),
    ("drift counts (published every 100, with noise)", "drift counts"),
    ("in-process POST /predict, whole", "service"),
    ("in-process POST /predict, Accept-Language: id", "service, Accept-Language: id"),
    ("in-process floor, whole", "floor"),
    ("in-process flask-smorest floor, whole", "flask-smorest floor"),
]


# --- instructions -------------------------------------------------------------------------------


def segments_of(parts: list[int], count: int) -> list[int]:
    """The last `count` segments among callgrind's parts: each mark (a connection accepted)
    ends a segment with a dump, and its second accept4() (there is no other connection) makes a
    small part of its own; the last part is the exit."""
    tail = parts[1:-1]
    segments, marks = tail[-2 * count :: 2], tail[-2 * count + 1 :: 2]
    if len(segments) < count or max(marks) > MARK_INSTRUCTIONS:
        raise RuntimeError(f"no {count} segments in callgrind's parts: {parts}")
    return segments


def mark(port: int) -> None:
    """A connection opened and closed: the worker's accept4() dumps a part."""
    socket.create_connection((LOOPBACK, port), timeout=60).close()


def send(port: int, kind: Kind, requests: int) -> float:
    """`requests` POSTs of the contract example, one after the other on a new connection (whose
    accept4() begins a part): the seconds they took."""
    headers = {"Content-Type": "application/json", **kind.headers}
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=600)
    started = time.monotonic()
    try:
        for _ in range(requests):
            connection.request("POST", "/predict", body=BODY, headers=headers)
            reply = connection.getresponse()
            reply.read()
            if reply.status != 200:
                raise RuntimeError(f"{kind.name}: {reply.status}")
    finally:
        connection.close()
    return time.monotonic() - started


def worker_instructions(setup: Setup, kinds: list[Kind], segments: int, calls: int) -> dict:
    """Instructions per request of each kind in the worker of `setup`, one figure a segment,
    each less the worker's idle work (its timers) over the segment's time; and that idle work,
    in instructions a second."""
    with tempfile.TemporaryDirectory(prefix="soulsync-ledger-") as name:
        folder = Path(name)
        valgrind = ["valgrind", "--tool=callgrind", "--dump-before=accept4"]
        valgrind.append(f"--callgrind-out-file={folder}/cg.%p")
        order: list[tuple[str, float]] = []
        # One hash seed for every server, so that the layout of Python's dicts and sets, and
        # the instructions it costs, is the same in each; readiness asked once a second, so
        # that few closed connections wait in the socket table that the worker reads.
        with setup.served(valgrind, 900, 1.0, PYTHONHASHSEED="0") as server:
            (worker,) = server.worker_pids()
            for kind in kinds:
                send(server.port, kind, WARM_UP)
            mark(server.port)
            time.sleep(IDLE_SECONDS)
            order.append((IDLE, IDLE_SECONDS))
            for _ in range(segments):
                for kind in kinds:
                    order.append((kind.name, send(server.port, kind, calls)))
            mark(server.port)
        found = segments_of(callgrind_parts(folder, worker), len(order))
    idle_per_second = found[0] / IDLE_SECONDS
    figures: dict[str, list[float]] = {kind.name: [] for kind in kinds}
    for (name, seconds), instructions in zip(order[1:], found[1:], strict=True):
        figures[name].append((instructions - idle_per_second * seconds) / calls)
    figures[IDLE] = [idle_per_second]
    return figures


# --- CPU time -----------------------------------------------------------------------------------


def worker_cpu(kinds: list[Kind], rounds: int, seconds: float) -> dict[str, list[float]]:
    """CPU microseconds per request of each kind at full speed, one figure a round."""
    figures: dict[str, list[float]] = {kind.name: [] for kind in kinds}
    with ExitStack() as stack:
        servers: dict[Setup, Server] = {}
        for kind in kinds:
            if kind.setup not in servers:
                servers[kind.setup] = stack.enter_context(kind.setup.served())
        for kind in kinds:  # warm-up
            wrk(servers[kind.setup], BODY, 1, CONNECTIONS, kind.headers)
        for number in range(rounds):
            for kind in in_turn(kinds, number):
                load = wrk(servers[kind.setup], BODY, seconds, CONNECTIONS, kind.headers)
                if load.errors:
                    raise RuntimeError(f"{kind.name}: {load.errors} errors under wrk")
                figures[kind.name].append(load.cpu_us_per_request)
            print(f"  CPU time: round {number + 1}/{rounds}", flush=True)
    return figures


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A row's figure: the median of its paired values, and their least and greatest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float], against: Sequence[float] | None = None) -> Figure:
        paired = [v - a for v, a in zip(values, against, strict=True)] if against else values
        return cls(statistics.median(paired), min(paired), max(paired))

    def shown(self, scale: float, signed: bool) -> str:
        sign = "+" if signed else ""
        value, low, high = (x / scale for x in (self.median, self.low, self.high))
        return f"{value:{sign},.1f} ({low:,.1f} to {high:,.1f})"


def report(worker: dict, cpu: dict, pieces: dict, pieces_cpu: dict) -> list[str]:
    lines = [
        "",
        "What each feature and server hook adds to POST /predict (the contract example), "
        "gunicorn.conf.py, 1 worker:",
        f"{'':60s}{'k instructions/request':>32s}{'CPU us/request':>28s}",
    ]
    for what, kind, against in ROWS:
        instructions = Figure.of(worker[kind], worker[against] if against else None)
        time = Figure.of(cpu[kind], cpu[against] if against else None)
        lines.append(
            f"{what:60s}{instructions.shown(1000, bool(against)):>32s}"
            f"{time.shown(1, bool(against)):>28s}"
        )
    lines += ["", "Measured alone, in-process (each less what it needs around it):"]
    for what, case in PIECES:
        lines.append(
            f"{what:60s}{Figure.of(pieces[case]).shown(1000, False):>32s}"
            f"{Figure.of(pieces_cpu[case]).shown(1, False):>28s}"
        )
    return lines


def less_baselines(figures: dict[str, list[float]], baselines: dict[str, str]) -> dict:
    """Each piece's figures less its baseline's, segment by segment."""
    return {
        case: [v - b for v, b in zip(values, figures[baselines[case]], strict=True)]
        if case in baselines
        else values
        for case, values in figures.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", type=Path, help="another checkout: its service alike")
    parser.add_argument("--calls", type=int, default=300, help="requests per callgrind segment")
    parser.add_argument("--segments", type=int, default=2, help="callgrind segments per kind")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of wrk per kind")
    parser.add_argument("--seconds", type=int, default=3, help="wrk seconds per round")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ledger.json")
    args = parser.parse_args(argv)
    require("valgrind", "valgrind")
    require("wrk", "wrk")
    kinds = list(KINDS)
    if args.compare:
        compared = Setup(root=args.compare.resolve())
        kinds += [Kind("compared", compared), Kind("compared, Accept-Language: id", compared,
                                                   INDONESIAN)]  # fmt: skip
    setups: dict[Setup, list[Kind]] = {}
    for kind in kinds:
        setups.setdefault(kind.setup, []).append(kind)

    print(f"ledger: {len(setups)} servers under callgrind, 2 at a time", flush=True)
    worker: dict[str, list[float]] = {}

    def measure(setup: Setup) -> dict:
        found = worker_instructions(setup, setups[setup], args.segments, args.calls)
        print(f"  callgrind: {', '.join(found)}", flush=True)
        return found

    with ThreadPoolExecutor(max_workers=2) as pool:
        for found in pool.map(measure, setups):
            worker |= found
    cases = sorted({case for _, case in PIECES} | set(BASELINES.values()))
    pieces = less_baselines(run_in_process(cases, args.segments, 200, callgrind=True), BASELINES)
    print("ledger: CPU time", flush=True)
    cpu = worker_cpu(kinds, args.rounds, args.seconds)
    pieces_cpu = less_baselines(run_in_process(cases, 9, 1000, callgrind=False), BASELINES)
    lines = report(worker, cpu, pieces, pieces_cpu)
    if args.compare:
        lines += compared_table(worker, cpu, args.compare)
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"instructions": worker, "cpu_us": cpu, "pieces_instructions": pieces,
             "pieces_cpu_us": pieces_cpu},
            indent=2,
        )
        + "\n"
    )  # fmt: skip
    print(f"\nraw figures: {args.out}")
    return 0


def compared_table(worker: dict, cpu: dict, compared: Path) -> list[str]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=compared, capture_output=True, text=True
    ).stdout.strip()
    here = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "",
        f"POST /predict, the contract example, in the worker: this checkout ({here}) and "
        f"{compared} ({commit})",
        f"{'':36s}{'k instructions':>16s}{'':>16s}{'CPU us':>10s}{'':>10s}",
        f"{'':36s}{'this':>16s}{commit:>16s}{'this':>10s}{commit:>10s}",
    ]
    for what, kind in (("no language", ""), ("Accept-Language: id", ", Accept-Language: id")):
        lines.append(
            f"{what:36s}{statistics.median(worker['service' + kind]) / 1000:16,.1f}"
            f"{statistics.median(worker['compared' + kind]) / 1000:16,.1f}"
            f"{statistics.median(cpu['service' + kind]):10.0f}"
            f"{statistics.median(cpu['compared' + kind]):10.0f}"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())

"""The service against a bare Flask floor, under wrk and in-process, against the cost goals.

Each runs under gunicorn.conf.py with a worker per CPU of this machine, and is called in-process.

The floor (bench/floor_app.py) parses the same JSON and returns a constant: what any Flask
service on this machine stands on. The flask-smorest floor (bench/smorest_floor_app.py) loads
and dumps the same shapes through flask-smorest's schemas and returns a constant: what the
design card's stack costs before any of the service's own work. wrk (2 threads, 8 connections,
on loopback) posts the contract example for `--rounds` rounds of `--seconds` after a warm-up;
the servers (with `--compare DIR`, that checkout's service too) take their turns round by
round, and each ratio is taken round by round, then their median: a shared machine's speed
varies from one minute to the next. CPU per request is the user and system time of the
server's processes over the requests wrk counted, steadier than requests per second. Also:
each service's median time for a full batch (the default batch limit, one client), its cold
start (process start to the first 200 from /readyz) and resident memory per worker; and
in-process (bench/in_process.py), CPU time per POST /predict of each server's app.

    python -m bench throughput [--compare DIR] [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.harness import (
    LOOPBACK,
    ROOT,
    Load,
    Server,
    in_turn,
    require,
    rss_kb,
    run_in_process,
    served,
    wrk,
)
from bench.in_process import FLOOR, SERVICE, SMOREST_FLOOR
from soulsync.config import DEFAULTS
from soulsync.questionnaire import CONTRACT_EXAMPLE

BODY = json.dumps(CONTRACT_EXAMPLE).encode()
BATCH = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * DEFAULTS["BATCH_LIMIT"]}).encode()
WORKERS = str(os.cpu_count() or 1)
WARM_UP_SECONDS = 3
COMPARED = "service (compared)"


@dataclass
class Contender:
    """One server of the comparison, and what it measured."""

    name: str
    app: str = "wsgi:app"
    root: Path = ROOT
    rounds: list[Load] = field(default_factory=list)
    cold_start_s: float = 0.0
    rss_mb: list[float] = field(default_factory=list)
    batch_ms: float | None = None

    def median(self, figure: str) -> float:
        return statistics.median(getattr(load, figure) for load in self.rounds)

    def paired(self, other: Contender, figure: str) -> list[float]:
        """This case's figure over the other's, round by round."""
        return [
            getattr(mine, figure) / getattr(theirs, figure)
            for mine, theirs in zip(self.rounds, other.rounds, strict=True)
        ]


def batch_median_ms(server: Server, calls: int = 30) -> float:
    """The median wall time of a full batch, one client, after a few to warm up."""
    connection = http.client.HTTPConnection(LOOPBACK, server.port, timeout=60)
    times = []
    try:
        for number in range(calls + 3):
            started = time.perf_counter()
            connection.request(
                "POST", "/predict/batch", body=BATCH, headers={"Content-Type": "application/json"}
            )
            reply = connection.getresponse()
            reply.read()
            if reply.status != 200:
                raise RuntimeError(f"a full batch answered {reply.status}")
            if number >= 3:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return statistics.median(times)


def measure(cases: list[Contender], rounds: int, seconds: float) -> None:
    with ExitStack() as stack:
        servers = []
        for case in cases:  # one after the other, so that each cold start is its own
            started = time.monotonic()
            server = stack.enter_context(
                served(app=case.app, root=case.root, WEB_CONCURRENCY=WORKERS)
            )
            case.cold_start_s = time.monotonic() - started
            servers.append(server)
            print(f"  {case.name}: ready in {case.cold_start_s:.2f} s", flush=True)
        for server in servers:
            wrk(server, BODY, WARM_UP_SECONDS)
        for number in range(rounds):
            for case, server in in_turn(list(zip(cases, servers, strict=True)), number):
                case.rounds.append(wrk(server, BODY, seconds))
            print(f"  round {number + 1}/{rounds}", flush=True)
        for case, server in zip(cases, servers, strict=True):
            case.rss_mb = [rss_kb(pid) / 1024 for pid in server.worker_pids()]
            if case.app == "wsgi:app":
                case.batch_ms = batch_median_ms(server)


def table(cases: list[Contender]) -> list[str]:
    lines = [
        f"{'':22s}{'req/s':>8s}{'(rounds)':>14s}{'p50 ms':>8s}{'p99 ms':>8s}{'CPU us/req':>11s}"
        f"{'(rounds)':>12s}{'errors':>7s}{'cold s':>7s}{'RSS MB':>9s}{'batch ms':>9s}"
    ]
    for case in cases:
        each = [load.requests_per_second for load in case.rounds]
        cpu = [load.cpu_us_per_request for load in case.rounds]
        batch = f"{case.batch_ms:.1f}" if case.batch_ms is not None else "-"
        lines.append(
            f"{case.name:22s}{case.median('requests_per_second'):8.0f}"
            f"{f'{min(each):.0f}-{max(each):.0f}':>14s}{case.median('p50_ms'):8.2f}"
            f"{case.median('p99_ms'):8.2f}{case.median('cpu_us_per_request'):11.0f}"
            f"{f'{min(cpu):.0f}-{max(cpu):.0f}':>12s}{sum(load.errors for load in case.rounds):7d}"
            f"{case.cold_start_s:7.2f}{'/'.join(f'{r:.0f}' for r in case.rss_mb):>9s}{batch:>9s}"
        )
    return lines


def goals(service: Contender, floor: Contender, inproc: dict[str, list[float]]) -> list[str]:
    """The cost goals (docs/performance.md), each with its figure and whether it is met."""
    cpu = service.paired(floor, "cpu_us_per_request")
    rate = service.paired(floor, "requests_per_second")
    ratio = [s / f for s, f in zip(inproc[SERVICE], inproc[FLOOR], strict=True)]
    found = [
        ("CPU per request, service / floor", statistics.median(cpu), cpu, "<=", 1.6),
        ("throughput, service / floor", statistics.median(rate), rate, ">=", 0.6),
        ("in-process CPU, service / floor", statistics.median(ratio), ratio, "<=", 3.0),
        ("p99, service / (2 x floor's)", service.median("p99_ms") / 2 / floor.median("p99_ms"),
         None, "<=", 1.0),
        ("cold start s", service.cold_start_s, None, "<", 1.5),
        ("RSS per worker MB", max(service.rss_mb), None, "<", 100.0),
    ]  # fmt: skip
    lines = []
    for what, value, each, op, target in found:
        met = value <= target if op == "<=" else value >= target if op == ">=" else value < target
        spread = f"(rounds {min(each):.2f} to {max(each):.2f})" if each else ""
        lines.append(
            f"{what:36s}{value:8.2f} {spread:26s} goal {op} {target:<5g} "
            f"{'met' if met else 'NOT met'}"
        )
    return lines


def framework_share(
    service: Contender, floor: Contender, smorest: Contender, inproc: dict[str, list[float]]
) -> list[str]:
    """How far the card's stack alone (the flask-smorest floor) is from the floor, and the
    service from it: no goal, the share of the cost that is the service's own."""
    lines = []
    for mine, theirs in ((smorest, floor), (service, smorest)):
        cpu = statistics.median(mine.paired(theirs, "cpu_us_per_request"))
        rate = statistics.median(mine.paired(theirs, "requests_per_second"))
        each = zip(inproc[mine.name], inproc[theirs.name], strict=True)
        ratio = statistics.median(m / t for m, t in each)
        what = f"{mine.name} / {theirs.name}"
        lines.append(
            f"{what:36s}CPU per request {cpu:.2f} x, throughput {rate:.2f} x, in-process "
            f"{ratio:.2f} x"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk's time each round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another checkout, its service alike")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "throughput.json")
    args = parser.parse_args(argv)
    require("wrk", "wrk")
    cases = [
        Contender(SERVICE),
        Contender(FLOOR, app="bench.floor_app:app"),
        Contender(SMOREST_FLOOR, app="bench.smorest_floor_app:app"),
    ]
    if args.compare:
        cases.append(Contender(COMPARED, root=args.compare.resolve()))
    print(f"throughput: {len(cases)} servers, {args.rounds} rounds of {args.seconds} s", flush=True)
    measure(cases, args.rounds, args.seconds)
    inproc = run_in_process([SERVICE, FLOOR, SMOREST_FLOOR], rounds=9, calls=2000, callgrind=False)
    service, floor, smorest = cases[0], cases[1], cases[2]
    lines = ["", f"wrk on loopback, gunicorn.conf.py with WEB_CONCURRENCY={WORKERS}:"]
    lines += table(cases)
    lines += [
        "",
        f"in-process CPU per POST /predict (least of {len(inproc[SERVICE])} rounds): service "
        f"{min(inproc[SERVICE]):.0f} us, floor {min(inproc[FLOOR]):.0f} us, flask-smorest floor "
        f"{min(inproc[SMOREST_FLOOR]):.0f} us",
        "",
        *goals(service, floor, inproc),
        "",
        *framework_share(service, floor, smorest, inproc),
    ]
    if args.compare:
        compared = cases[3]
        cpu = statistics.median(compared.paired(floor, "cpu_us_per_request"))
        rate = statistics.median(compared.paired(floor, "requests_per_second"))
        lines.append(
            f"compared ({args.compare}): CPU per request / floor {cpu:.2f}, throughput / floor "
            f"{rate:.2f}, full batch {compared.batch_ms:.1f} ms against {service.batch_ms:.1f}"
        )
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"workers": WORKERS, "in_process_us": inproc,
             "cases": {case.name: {"rounds": [asdict(load) for load in case.rounds],
                                   "cold_start_s": case.cold_start_s, "rss_mb": case.rss_mb,
                                   "batch_ms": case.batch_ms} for case in cases}},
            indent=2,
        )
        + "\n"
    )  # fmt: skip
    print(f"\nraw figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

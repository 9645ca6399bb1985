"""Hostile clients against one worker: each protection's goal, its figure, met or not.

Every scenario starts gunicorn with gunicorn.conf.py and WEB_CONCURRENCY=1, as an attacker
meets it, and takes a fresh server (so that memory and slots start alike). Attackers run in a
process of their own (asyncio for many connections), so that the probes, in this process,
wait for the server alone. A probe opens a new connection for `GET /healthz` unless it says it
keeps one alive. Scenarios:

- a long Accept-Language: 97 header lines of 8 KB (beyond gunicorn's limit of 50 lines, refused
  before the app) and 45 (admitted, so the app negotiates the language): the time to the reply,
  and the worker's growth over 200 distinct such requests;
- a chunked body of one-byte chunks, each with an 8 KB extension: its reply's time after its
  head, and the probes meanwhile;
- 300 clients that pipeline large replies (the Swagger UI bundle) and never read; 400 silent
  clients that reconnect when cut; 8 clients opening connections back to back, against a
  kept-alive probe;
- the costliest requests within the limits, alone (the worker's CPU time each) and from 8
  clients back to back (the probes meanwhile); one connection pipelining;
- 200 slow connections (silence, one byte, a head or a body trickled): ordinary requests
  meanwhile, and SIGTERM with them held;
- every server's log: JSON lines only, no 5xx.

Times are wall-clock times on loopback; this shared machine moves them, so run it twice.

    python -m bench hostile [--compare DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import signal
import socket
import statistics
import string
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import LOOPBACK, ROOT, Server, cpu_seconds, read_reply, rss_kb, served
from soulsync.config import DEFAULTS
from soulsync.event_loop import port_use
from soulsync.questionnaire import CONTRACT_EXAMPLE

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
BUNDLE = b"GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = json.dumps(CONTRACT_EXAMPLE).encode()
FULL_BATCH = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * DEFAULTS["BATCH_LIMIT"]}).encode()
NESTED = b'{"questionnaires":[' + b",".join([b"[[[[]]]]"] * 50_000) + b"]}"
BAD_BATCH = json.dumps({"questionnaires": [{"Pressure": 9}] * DEFAULTS["BATCH_LIMIT"]}).encode()


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/json", *headers]
    return ("\r\n".join([*head, f"Content-Length: {len(body)}"]) + "\r\n\r\n").encode() + body


def accept_language(lines: int, rng: random.Random) -> bytes:
    """GET /nope with `lines` Accept-Language lines of about 8 KB, distinct from any other."""
    start = "".join(rng.choices(string.ascii_lowercase, k=6))
    line = (start + "," + ",".join(["a"] * 4090))[:8150]
    head = b"GET /nope HTTP/1.1\r\nHost: x\r\n"
    return head + (b"Accept-Language: " + line.encode() + b"\r\n") * lines + b"\r\n"


# --- clients ------------------------------------------------------------------------------------


def ask(port: int, data: bytes, timeout: float = 10) -> tuple[int, float]:
    """(status, seconds) of one request on a new connection (status 0: no reply in time)."""
    started = time.monotonic()
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as client:
            client.sendall(data)
            status, _ = read_reply(client)
    except OSError:
        return 0, time.monotonic() - started
    return status, time.monotonic() - started


def probes(port: int, seconds: float, every: float = 0.1, keep_alive: bool = False) -> list:
    """A probe's waits for `GET /healthz` (None: no answer within 10 s), for `seconds`."""
    waits: list[float | None] = []
    until = time.monotonic() + seconds
    kept: socket.socket | None = None
    buffer = bytearray()
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            if not keep_alive:
                status, wait = ask(port, HEALTHZ)
                waits.append(wait if status == 200 else None)
            else:
                if kept is None:
                    kept = socket.create_connection((LOOPBACK, port), timeout=10)
                kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                status, _ = read_reply(kept, buffer)
                waits.append(time.monotonic() - started if status == 200 else None)
        except OSError:
            waits.append(None)
            kept = None
        time.sleep(max(0.0, every - (time.monotonic() - started)))
    if kept is not None:
        kept.close()
    return waits


@dataclass
class Waits:
    """What a series of probes waited."""

    waits: list[float | None]

    @property
    def answered(self) -> list[float]:
        return sorted(wait for wait in self.waits if wait is not None)

    @property
    def missed(self) -> int:
        return sum(wait is None for wait in self.waits)

    def quantile(self, share: float) -> float:
        answered = self.answered
        return answered[round(share * (len(answered) - 1))] if answered else float("inf")

    @property
    def worst(self) -> float:
        return float("inf") if self.missed or not self.answered else self.answered[-1]

    def __str__(self) -> str:
        return (
            f"{len(self.waits)} probes: p50 {self.quantile(0.5) * 1000:.1f} ms, p99 "
            f"{self.quantile(0.99) * 1000:.1f} ms, max {self.worst * 1000:.1f} ms, "
            f"{self.missed} unanswered"
        )


@contextlib.contextmanager
def attacking(attack: Callable[..., Any], *args: Any) -> Iterator[Any]:
    """Run `attack(*args)` in a process of its own while the block runs; the block gets its
    result (an AsyncResult: .get())."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        result = pool.apply_async(attack, args)
        yield result
        result.wait(timeout=600)


# --- attackers (each in a process of its own) ---------------------------------------------------


async def _hold_until(until: float) -> None:
    await asyncio.sleep(max(0.0, until - time.time()))


def reconnecting(port: int, clients: int, until: float, say: bytes) -> int:
    """`clients` connections that send `say` (perhaps nothing), read until the server answers
    or cuts them, and connect again, until `until` (time.time()): the connections made."""

    async def client() -> int:
        made = 0
        while time.time() < until:
            try:
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            made += 1
            writer.write(say)
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(reader.read(1 << 16), max(0.01, until - time.time()))
            writer.close()
        return made

    async def run() -> int:
        return sum(await asyncio.gather(*(client() for _ in range(clients))))

    return asyncio.run(run())


def never_reading(port: int, clients: int, until: float) -> int:
    """`clients` connections that each pipeline four requests for the Swagger UI bundle, with a
    small receive buffer, and never read until `until`: how many were made."""
    sockets, made = [], 0
    for _ in range(clients):
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.settimeout(10)
        with contextlib.suppress(OSError):
            client.connect((LOOPBACK, port))
            client.sendall(BUNDLE * 4)
            made += 1
        sockets.append(client)
    time.sleep(max(0.0, until - time.time()))
    for client in sockets:
        client.close()
    return made


def back_to_back(port: int, clients: int, until: float, request: bytes) -> int:
    """`clients` kept-alive connections sending `request` one after the other: replies read."""

    async def client() -> int:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        served_ = 0
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while time.time() < until:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                served_ += 1
                if b"connection: close" in head.lower():
                    writer.close()
                    reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.close()
        return served_

    async def run() -> int:
        return sum(await asyncio.gather(*(client() for _ in range(clients))))

    return asyncio.run(run())


SLOW_HEAD = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
#: Slow connections by kind: what each sends at once, then what it trickles a byte every 2 s.
SLOW_KINDS = {
    "silence": (b"", b""),
    "one byte": (b"P", b""),
    "trickled head": (b"", SLOW_HEAD + b"X-Slow: 1\r\n" * 40),
    "trickled body": (SLOW_HEAD + b"Content-Length: 100000\r\n\r\n", b"{" + b" " * 99_999),
}


def slow(port: int, per_kind: int, until: float) -> int:
    """`per_kind` connections of each slow kind, held until `until`: how many were cut."""

    async def connection(first: bytes, trickle: bytes) -> int:
        try:
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            return 0
        writer.write(first)
        position = 0
        try:
            while time.time() < until:
                if reader.at_eof() or writer.is_closing():
                    return 1
                if position < len(trickle):
                    writer.write(trickle[position : position + 1])
                    position += 1
                with contextlib.suppress(TimeoutError):
                    if (
                        await asyncio.wait_for(reader.read(1 << 16), min(2.0, until - time.time()))
                        == b""
                    ):
                        return 1
        except (OSError, ValueError):
            return 1
        finally:
            writer.close()
        return 0

    async def run() -> int:
        kinds = [kind for kind in SLOW_KINDS.values() for _ in range(per_kind)]
        return sum(await asyncio.gather(*(connection(*kind) for kind in kinds)))

    return asyncio.run(run())


def chunk_extensions(port: int) -> tuple[int, float]:
    """POST /predict/batch in one-byte chunks, each with an 8 KB extension, sent as fast as the
    server takes it: (status, seconds from the head to the reply)."""
    body = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * 95}).encode()
    extension = b";a" * 4090
    with socket.create_connection((LOOPBACK, port), timeout=60) as client:
        client.sendall(
            b"POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        started = time.monotonic()

        def send() -> None:
            with contextlib.suppress(OSError):
                for start in range(0, len(body), 64):
                    piece = body[start : start + 64]
                    client.sendall(b"".join(b"1" + extension + b"\r\n" + bytes([c]) + b"\r\n"
                                            for c in piece))  # fmt: skip
                client.sendall(b"0\r\n\r\n")

        threading.Thread(target=send, daemon=True).start()
        try:
            status, _ = read_reply(client)
        except OSError:
            status = 0
        return status, time.monotonic() - started


# --- scenarios ----------------------------------------------------------------------------------


@dataclass
class Goal:
    what: str
    figure: float
    target: float
    unit: str = "s"
    #: Whether the figure must stay below the target (else reach it).
    below: bool = True

    @property
    def met(self) -> bool:
        return self.figure < self.target if self.below else self.figure >= self.target


@dataclass
class Findings:
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"    {text}", flush=True)


def long_accept_language(server: Server, found: Findings) -> None:
    rng = random.Random(29)
    (worker,) = server.worker_pids()
    for lines in (97, 45):
        replies = [ask(server.port, accept_language(lines, rng)) for _ in range(10)]
        worst = max(seconds for _, seconds in replies)
        statuses = sorted({status for status, _ in replies})
        found.note(f"{lines} Accept-Language lines of 8 KB: status {statuses}, median "
                   f"{statistics.median(s for _, s in replies) * 1000:.1f} ms, max "
                   f"{worst * 1000:.1f} ms")  # fmt: skip
        found.goals.append(Goal(f"{lines} lines of 8 KB answered", worst, 0.3))
    for lines in (97, 45):
        before = rss_kb(worker)
        for _ in range(200):
            ask(server.port, accept_language(lines, rng))
        grown = (rss_kb(worker) - before) / 1024
        found.note(f"200 distinct requests of {lines} lines: the worker grew {grown:.1f} MB")
        found.goals.append(Goal(f"200 distinct of {lines} lines: worker growth", grown, 60, "MB"))


def chunk_extension_body(server: Server, found: Findings) -> None:
    with attacking(chunk_extensions, server.port) as reply:
        time.sleep(0.5)
        waits = Waits(probes(server.port, 5.0))
        status, seconds = reply.get(timeout=120)
    found.note(f"chunk extensions: {status} after {seconds:.2f} s; probes meanwhile: {waits}")
    found.goals.append(Goal("chunk-extension body: reply after its head", seconds, 6.0))
    found.goals.append(Goal("chunk-extension body: probe meanwhile", waits.worst, 2.0))


def non_reading_clients(server: Server, found: Findings) -> None:
    with attacking(never_reading, server.port, 300, time.time() + 16) as made:
        time.sleep(2)  # every connection made and its replies stuck
        waits = Waits(probes(server.port, 12.0, every=0.25))
        # About 14 s in: a connection the server has cut leaves the table's established state
        # (its unsent reply may still wait in the kernel for a client that does not read).
        held = port_use(server.port)
        connections = made.get(timeout=120)
    still = held.accepted if held else -1
    found.note(f"300 non-reading clients ({connections} connections): {waits}; {still} still "
               "held by the server 14 s in")  # fmt: skip
    found.goals.append(Goal("300 non-reading clients: probe", waits.worst, 2.0))
    found.goals.append(Goal("300 non-reading clients: held 14 s in", still, 1, ""))


def silent_reconnecting(server: Server, found: Findings) -> None:
    with attacking(reconnecting, server.port, 400, time.time() + 17, b"") as made:
        time.sleep(2)
        waits = Waits(probes(server.port, 15.0, every=0.2))
        connections = made.get(timeout=120)
    found.note(f"400 silent reconnecting clients ({connections} connections): {waits}")
    found.goals.append(Goal("400 silent reconnecting clients: probe", waits.worst, 1.0))


def pooled_client_fairness(server: Server, found: Findings) -> None:
    nope = b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    baseline = Waits(probes(server.port, 3.0, every=0.05, keep_alive=True))
    with attacking(reconnecting, server.port, 8, time.time() + 14, nope):
        time.sleep(1)
        kept = Waits(probes(server.port, 6.0, every=0.05, keep_alive=True))
        new = Waits(probes(server.port, 6.0, every=0.05))
    found.note(f"kept-alive probe alone: {baseline}")
    found.note(f"8 clients reconnecting back to back: kept-alive probe {kept}; new connections "
               f"{new}")  # fmt: skip
    found.goals.append(Goal("kept-alive client's p50, 8 reconnecting", kept.quantile(0.5), 0.05))


def costly_requests(server: Server, found: Findings) -> None:
    (worker,) = server.worker_pids()
    costly = {
        "a full batch (valid)": post("/predict/batch", FULL_BATCH),
        "a nested body (refused, 400)": post("/predict/batch", NESTED),
        "a batch of bad questionnaires (422)": post("/predict/batch", BAD_BATCH),
        "45 Accept-Language lines of 8 KB": accept_language(45, random.Random(19)),
    }
    worst = 0.0
    for what, request in costly.items():
        ask(server.port, request)  # warm-up
        before = cpu_seconds([worker])
        for _ in range(10):
            ask(server.port, request, timeout=60)
        each = (cpu_seconds([worker]) - before) / 10 * 1000
        worst = max(worst, each)
        found.note(f"{what}: {each:.0f} ms of the worker's CPU each")
    before = cpu_seconds([worker])
    status, _ = chunk_extensions(server.port)
    extensions = (cpu_seconds([worker]) - before) * 1000
    found.note(f"the chunk-extension body ({status}): {extensions:.0f} ms of the worker's CPU")
    found.goals.append(Goal("the costliest request's CPU, bar chunk extensions", worst, 50, "ms"))
    found.goals.append(Goal("the chunk-extension body's CPU", extensions, 50, "ms"))


def busy_clients(server: Server, found: Findings) -> None:
    for what, request in (
        ("full batches", post("/predict/batch", FULL_BATCH)),
        ("refused nested bodies", post("/predict/batch", NESTED)),
    ):
        with attacking(back_to_back, server.port, 8, time.time() + 11.5, request) as served_:
            time.sleep(0.5)
            waits = Waits(probes(server.port, 10.0))
            replies = served_.get(timeout=120)
        found.note(f"8 clients sending {what} back to back ({replies / 11.5:.0f} replies/s): "
                   f"{waits}")  # fmt: skip
        found.goals.append(Goal(f"8 clients, {what}: probe p99", waits.quantile(0.99), 0.5))
        found.goals.append(Goal(f"8 clients, {what}: probe max", waits.worst, 2.0))
    count = 2000
    with socket.create_connection((LOOPBACK, server.port), timeout=60) as client:
        started = time.monotonic()
        sender = threading.Thread(target=client.sendall, args=(post("/predict", BODY) * count,))
        sender.start()
        buffer = bytearray()
        for _ in range(count):
            read_reply(client, buffer)
        rate = count / (time.monotonic() - started)
        sender.join()
    found.note(f"one connection pipelining {count} contract requests: {rate:.0f} req/s")


def slow_connections(server: Server, found: Findings) -> None:
    per_kind = 50
    with attacking(slow, server.port, per_kind, time.time() + 22):
        time.sleep(1.5)
        ordinary = [ask(server.port, post("/predict", BODY, "Connection: close"), timeout=5)
                    for _ in range(100)]  # fmt: skip
        waits = Waits(probes(server.port, 10.0, every=1.0))
    within = sum(status == 200 and seconds <= 1.0 for status, seconds in ordinary) / len(ordinary)
    found.note(f"{4 * per_kind} slow connections: {within:.0%} of 100 ordinary requests answered "
               f"within 1 s; probes {waits}")  # fmt: skip
    found.goals.append(Goal("200 slow connections: requests within 1 s", within, 0.95, "",
                            below=False))  # fmt: skip
    found.goals.append(Goal("200 slow connections: probes unanswered", waits.missed, 1, ""))


def sigterm_when_held(server: Server, found: Findings) -> None:
    until = time.time() + 13
    with attacking(slow, server.port, 50, until), attacking(never_reading, server.port, 50, until):
        time.sleep(4.6)  # heads and bodies well under way, replies stuck
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=60)
        seconds = time.monotonic() - started
    found.note(f"SIGTERM with 200 slow and 50 non-reading connections held: exit {code} after "
               f"{seconds:.2f} s")  # fmt: skip
    found.goals.append(Goal("SIGTERM under stalls: exit", seconds, 8.0))


SCENARIOS = [
    long_accept_language,
    chunk_extension_body,
    non_reading_clients,
    silent_reconnecting,
    pooled_client_fairness,
    costly_requests,
    busy_clients,
    slow_connections,
    sigterm_when_held,
]


def log_problems(log: str) -> tuple[int, int]:
    """(lines that are not JSON, replies of 5xx in the access lines)."""
    not_json = server_errors = 0
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            not_json += 1
            continue
        server_errors += record.get("httpRequest", {}).get("status", 0) >= 500
    return not_json, server_errors


def run(root: Path) -> Findings:
    found = Findings()
    for scenario in SCENARIOS:
        print(f"  {scenario.__name__.replace('_', ' ')}", flush=True)
        with served(root=root, WEB_CONCURRENCY="1") as server:
            scenario(server, found)
            found.logs.append(server.log())
    not_json, server_errors = 0, 0
    for log in found.logs:
        lines, errors = log_problems(log)
        not_json, server_errors = not_json + lines, server_errors + errors
    found.note(f"the servers' logs: {not_json} lines not JSON, {server_errors} replies of 5xx")
    found.goals.append(Goal("log lines not JSON", not_json, 1, ""))
    found.goals.append(Goal("replies of 5xx", server_errors, 1, ""))
    return found


def table(runs: dict[str, Findings]) -> list[str]:
    names = list(runs)
    first = runs[names[0]]
    lines = [f"{'goal':52s}{'target':>10s}" + "".join(f"{name:>20s}" for name in names)]
    for index, goal in enumerate(first.goals):
        target = f"{'<' if goal.below else '>='} {goal.target:g} {goal.unit}".strip()
        cells = ""
        for name in names:
            mine = runs[name].goals[index]
            cells += f"{mine.figure:>12.3g} {'met' if mine.met else 'NOT met':>7s}"
        lines.append(f"{goal.what:52s}{target:>10s}{cells}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", type=Path, help="another checkout, under the same attacks")
    args = parser.parse_args(argv)
    roots = {"this checkout": ROOT}
    if args.compare:
        roots[str(args.compare)] = args.compare.resolve()
    runs = {}
    for name, root in roots.items():
        print(f"hostile clients against {name}:", flush=True)
        runs[name] = run(root)
    print("\n" + "\n".join(table(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hostile clients against gunicorn with this repository's settings: slow connections, broken
framing, malformed requests, bodies that buy work. The service keeps answering everyone else,
answers each with a 4xx, and writes none of their bytes to its log.

The thresholds here are generous (seconds where the service takes milliseconds), so that a
fully loaded machine passes; bench/slow_clients.py measures the latencies themselves.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from soulsync.questionnaire import CONTRACT_EXAMPLE
from tests.e2e.gunicorn_server import Server, call, read_reply, rss_kb

BODY = json.dumps(CONTRACT_EXAMPLE).encode()
CANARY = "zq-canary-9913"
SLOW_PER_KIND = 50  # x 4 kinds = 200 slow connections at once


def request_head(length: int | None = None, chunked: bool = False, path: str = "/predict") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/json"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send(server: Server, data: bytes, timeout: float = 60) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as client:
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        return read_reply(client)


@contextlib.contextmanager
def slow_connections(server: Server) -> Iterator[list[socket.socket]]:
    """SLOW_PER_KIND connections of each kind: one byte then silence, silence, headers and a
    body trickled a byte every second; open until the block ends."""
    opened: list[socket.socket] = []
    stop = threading.Event()

    def connect(first: bytes) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        if first:
            client.sendall(first)
        opened.append(client)
        return client

    trickled = []
    for _ in range(SLOW_PER_KIND):
        connect(b"")
        connect(b"P")
        trickled.append((connect(b"POST /predict HTTP/1.1\r\nHost: x\r\n"), b"X-Slow: 1\r\n" * 9))
        trickled.append((connect(request_head(len(BODY) * 20)), BODY * 20))

    def trickle() -> None:
        position = 0
        while not stop.wait(1.0):
            for client, rest in trickled:
                with contextlib.suppress(OSError):
                    client.sendall(rest[position : position + 1])
            position += 1

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        stop.set()
        thread.join()
        for client in opened:
            client.close()


def test_slow_connections_do_not_keep_others_waiting(start_server) -> None:
    server = start_server()
    with slow_connections(server) as opened:
        assert len(opened) == 4 * SLOW_PER_KIND
        answered = []
        for _ in range(40):  # each call waits at most 10 s: with threads it would time out
            answered.append(call(server.base + "/predict", CONTRACT_EXAMPLE)[0])
            answered.append(call(server.base + "/healthz")[0])
    assert answered == [200] * 80
    assert call(server.base + "/predict", CONTRACT_EXAMPLE)[0] == 200


def test_a_trickled_body_is_cut_off_at_the_deadline(start_server) -> None:
    """soulsync.server.REQUEST_SECONDS: a body that never completes does not hold its
    connection (nor, at SIGTERM, the shutdown) for longer."""
    server = start_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as client:
        client.sendall(request_head(10_000) + b"{")
        started = time.monotonic()
        while True:  # trickle until the server closes the connection
            try:
                client.sendall(b" ")
                if client.recv(1, socket.MSG_DONTWAIT) == b"":
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            assert time.monotonic() - started < 120, "the server never cut the body off"
            time.sleep(0.5)
    assert call(server.base + "/healthz")[0] == 200


def test_sigterm_is_not_held_by_stalled_clients(start_server) -> None:
    server = start_server()
    with slow_connections(server):
        time.sleep(1)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=120) == 0
    assert "graceful timeout" not in server.log()


def test_a_malformed_chunked_body_is_a_400_with_nothing_logged(start_server) -> None:
    server = start_server()
    status, body = send(
        server, request_head(chunked=True) + f"{CANARY}\r\n{{}}\r\n0\r\n\r\n".encode()
    )
    assert status == 400
    assert json.loads(body)["code"] == 400
    server.stop()
    log = server.log()
    assert CANARY not in log and "Traceback" not in log
    assert {json.loads(line)["severity"] for line in log.splitlines()} <= {"INFO", "WARNING"}


def test_a_chunked_body_over_the_limit_is_a_413_like_one_with_content_length(
    start_server,
) -> None:
    server = start_server(SOULSYNC_MAX_CONTENT_LENGTH="1000")
    big = json.dumps({**CONTRACT_EXAMPLE, "padding": "x" * 2000}).encode()
    chunked = request_head(chunked=True) + f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"
    assert send(server, chunked)[0] == 413
    assert send(server, request_head(len(big)) + big)[0] == 413
    small = BODY
    chunked = request_head(chunked=True) + f"{len(small):x}\r\n".encode() + small + b"\r\n0\r\n\r\n"
    assert send(server, chunked)[0] == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        f"GET /{CANARY}\x01 HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"GET / HTTP/1.1\r\nHost: x\r\nBad({CANARY}: 1\r\n\r\n".encode(),
        f"G{CANARY}T / HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"GET / HTTP/9.{CANARY}\r\nHost: x\r\n\r\n".encode(),
    ],
    ids=["request-line", "header-name", "method", "version"],
)
def test_requests_gunicorn_cannot_parse_leave_no_bytes_in_the_log(
    server: Server, request_bytes: bytes
) -> None:
    status, _ = send(server, request_bytes)
    assert 400 <= status < 500
    assert CANARY not in server.log()


def test_a_body_that_buys_work_is_refused_quickly_and_leaves_memory_as_it_was(
    start_server,
) -> None:
    server = start_server()
    (worker,) = server.worker_pids()
    bomb = json.dumps({"questionnaires": [{}] * 600_000}, separators=(",", ":")).encode()
    bad = json.dumps({"questionnaires": [{"Pressure": 9}] * 1000}).encode()
    send(server, request_head(len(bomb), path="/predict/batch") + bomb)  # warm up the allocator
    before = rss_kb(worker)
    for _ in range(3):
        status, reply = send(server, request_head(len(bomb), path="/predict/batch") + bomb)
        assert status == 422 and len(reply) < 1000
        status, reply = send(server, request_head(len(bad), path="/predict/batch") + bad)
        assert status == 422 and len(reply) < 100_000
    assert rss_kb(worker) <= before + 16_000  # kB: nothing kept from one request to the next

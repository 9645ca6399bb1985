"""Hostile clients against gunicorn with this repository's settings: slow connections, broken
framing, malformed requests, bodies that buy work. The service keeps answering everyone else,
answers each with a 4xx, and writes none of their bytes to its log.

The thresholds here are generous (seconds where the service takes milliseconds), so that a
fully loaded machine passes; `python -m bench hostile` measures the latencies themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import (
    ROOT,
    Server,
    call,
    cpu_seconds,
    free_port,
    gunicorn_command,
    read_reply,
    rss_kb,
)
from soulsync import event_loop
from soulsync.questionnaire import CONTRACT_EXAMPLE

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
    """(status, body) of the reply to `data`; the server may answer and close before it has
    all of it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as client:
        with contextlib.suppress(OSError):  # a pipe broken, a reset, the connection gone
            client.sendall(data)
            client.shutdown(socket.SHUT_WR)
        return read_reply(client)


def bytes_taken_after_reply(
    server: Server, head: bytes, block: bytes, limit: int
) -> tuple[int, int]:
    """(status, bytes): send `head`, read the reply's status line, then keep sending `block`
    after block of the body until the server stops taking it or `limit` bytes have gone."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(head)
        status = int(client.recv(65536).split(b" ", 2)[1])
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < limit:
                sent += client.send(block)
        return status, sent


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
    """soulsync.event_loop.REQUEST_SECONDS: a body that never completes does not hold its
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
    server = start_server(SOULSYNC_MAX_QUESTIONNAIRE_BYTES="1000")
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


def test_a_body_that_buys_work_is_refused_cheaply_and_leaves_memory_as_it_was(
    start_server,
) -> None:
    """Bodies within the size limit whose shape would buy work (a million empty lists, a
    thousand bad questionnaires) cost the worker little CPU and no memory."""
    server = start_server()
    (worker,) = server.worker_pids()
    nested = b'{"questionnaires":[' + b",".join([b"[[[[]]]]"] * 50_000) + b"]}"
    bad = json.dumps({"questionnaires": [{"Pressure": 9}] * 500}).encode()
    assert len(nested) < 500 * 1024  # within a batch's limit
    send(server, request_head(len(nested), path="/predict/batch") + nested)  # warm up
    before, cpu_before = rss_kb(worker), cpu_seconds([worker])
    for _ in range(3):
        status, reply = send(server, request_head(len(nested), path="/predict/batch") + nested)
        assert status == 400 and len(reply) < 1000
        status, reply = send(server, request_head(len(bad), path="/predict/batch") + bad)
        assert status == 422 and len(reply) < 20_000  # ten named, the rest not checked
    # Six requests; the nested body alone cost 0.6 s of CPU each before it was refused unread.
    assert cpu_seconds([worker]) - cpu_before < 1.5
    assert rss_kb(worker) <= before + 16_000  # kB: nothing kept from one request to the next


def test_a_number_beyond_what_python_reads_is_a_400(server: Server) -> None:
    digits = b'{"questionnaires": [{"Gender": ' + b"9" * 5000 + b"}]}"
    for path, body in (
        ("/predict", b'{"Gender": 1e9999999999999999999}'),
        ("/predict/batch", digits),
    ):
        status, reply = send(server, request_head(len(body), path=path) + body)
        assert status == 400 and json.loads(reply)["code"] == 400
    assert '"ERROR"' not in server.log() and "Traceback" not in server.log()


def test_a_body_in_a_million_chunks_is_refused_after_the_first_few_kilobytes(
    server: Server,
) -> None:
    """A chunked body costs a parse per chunk: one without Content-Length may hold 16 KiB."""
    chunks = b"1\r\n \r\n" * 2_000_000
    head = request_head(chunked=True, path="/predict/batch")
    status, reply = send(server, head + b"1\r\n{\r\n" + chunks)
    assert status == 411 and "Content-Length" in json.loads(reply)["message"]
    status, reply = send(server, request_head(chunked=True) + b"1\r\n{\r\n" + chunks)
    assert status == 413  # one questionnaire's limit is below what chunks may hold
    assert call(server.base + "/healthz")[0] == 200


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (request_head(10**12), 413),
        (b"GET /model HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n", 200),
        (request_head(chunked=True, path="/predict/batch"), 411),
    ],
    ids=["refused", "ignored", "chunked"],
)
def test_a_body_left_unread_is_not_read_to_its_end(
    server: Server, head: bytes, status: int
) -> None:
    """gunicorn would read a body the app did not to its end before the connection's next
    request, its worker busy all the while: the server reads a little of it, then closes."""
    block = b" " * (1 << 20)
    if b"chunked" in head:
        block = b"1\r\n \r\n" * (1 << 17)
        head += b"1\r\n[\r\n" + block[: 7 * 17_000]  # past what chunks may hold
    limit = 256 << 20
    answered, taken = bytes_taken_after_reply(server, head, block, limit)
    assert answered == status
    assert taken < limit
    assert call(server.base + "/healthz")[0] == 200


def test_a_client_still_sending_a_refused_body_reads_its_reply(server: Server) -> None:
    """A client that sends its whole body before it reads (as curl does) gets its 413, not a
    reset: before closing, the server discards what the client still sends (a connection closed
    while data arrives resets, and the client's send fails before it reads the reply). The body
    is larger than loopback's socket buffers hold, and within what the server discards."""
    size = 6 << 20
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
            client.sendall(request_head(size) + b" " * size)
            status, reply = read_reply(client)
        assert status == 413 and json.loads(reply)["code"] == 413


def test_a_short_unread_body_keeps_the_connection_for_the_next_request(server: Server) -> None:
    ignored = b"GET /model HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    last = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(ignored + last)
        data = b""
        while chunk := client.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 ") == 2


def test_a_new_connection_gets_its_turn_while_others_have_requests_queued(
    start_server,
) -> None:
    """Eight connections with 60 requests each already sent (pipelined), then a new one: the
    new one is served while most of the queued requests still wait, not after them. The order
    is the server's own (its access log), whatever the machine's load."""
    server = start_server()
    batch = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * 20}).encode()
    burst = (request_head(len(batch), path="/predict/batch") + batch) * 60
    busy = [socket.create_connection(("127.0.0.1", server.port), timeout=120) for _ in range(8)]
    for client in busy:
        client.sendall(burst)
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as probe:
        probe.sendall(b"GET /model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_reply(probe)[0] == 200
    for client in busy:
        client.shutdown(socket.SHUT_WR)
        while client.recv(65536):
            pass
        client.close()
    routes = [
        json.loads(line)["httpRequest"]["requestUrl"]
        for line in server.log().splitlines()
        if '"httpRequest"' in line
    ]
    served_before_probe = routes.index("/model")
    assert routes.count("/predict/batch") == 8 * 60
    assert served_before_probe < 8 * 60 / 2, served_before_probe


def test_a_bind_that_loses_the_metrics_listener_stops_start_up(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        gunicorn_command("--bind", f"127.0.0.1:{port}"),
        cwd=ROOT,
        env={**os.environ, "SOULSYNC_METRICS_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SOULSYNC_METRICS_PORT" in result.stdout + result.stderr


def test_a_failed_bind_leaves_no_metrics_folder(server: Server) -> None:
    made = set(Path(tempfile.gettempdir()).glob("soulsync-metrics-*"))
    result = subprocess.run(
        gunicorn_command(),
        cwd=ROOT,
        env={**os.environ, "PORT": str(server.port)},  # taken by the running server
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert set(Path(tempfile.gettempdir()).glob("soulsync-metrics-*")) == made


def test_a_file_limit_below_the_connections_stops_start_up() -> None:
    port = free_port()
    result = subprocess.run(
        ["prlimit", "--nofile=128:128", *gunicorn_command()],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip().splitlines()
    assert output == [output[-1]] and "GUNICORN_WORKER_CONNECTIONS" in output[-1]


def test_when_every_connection_slot_is_taken_the_log_and_the_metrics_say_so(
    start_server,
) -> None:
    """Five slots, held by five busy keep-alive clients: more connections wait in the kernel's
    queue, and the worker says so (the metrics port has slots of its own)."""
    metrics_port = free_port()
    server = start_server(GUNICORN_WORKER_CONNECTIONS="5", SOULSYNC_METRICS_PORT=str(metrics_port))
    stop = threading.Event()

    def keep_busy() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
            while not stop.is_set():
                client.sendall(request_head(len(BODY)) + BODY)
                read_reply(client)
                time.sleep(0.5)

    holders = [threading.Thread(target=keep_busy, daemon=True) for _ in range(5)]
    for holder in holders:
        holder.start()
    time.sleep(1)
    waiting = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(3)]
    try:
        deadline = time.monotonic() + 60
        while "waiting to be accepted" not in server.log():
            assert time.monotonic() < deadline, "no line about the slots"
            time.sleep(0.5)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30)
        text = metrics.read().decode()
        (line,) = [x for x in text.splitlines() if x.startswith("soulsync_accept_queue ")]
        assert float(line.split()[1]) >= 1
        (line,) = [x for x in text.splitlines() if x.startswith("soulsync_connections ")]
        assert float(line.split()[1]) == 5  # every slot
        assert "soulsync_event_loop_lag_seconds " in text  # the wait the loop imposes
    finally:
        stop.set()
        for client in waiting:
            client.close()
        for holder in holders:
            holder.join(timeout=60)
    assert all(line.startswith("{") for line in server.log().splitlines())


# --- framing, slots, writes, header sizes ------------------------------------------------------


def reply_head(client: socket.socket) -> bytes:
    """The status line and headers of the next reply on a connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.partition(b"\r\n\r\n")[0]


@pytest.mark.parametrize(
    ("head", "closes"),
    [
        (request_head(1 << 20), True),  # 413, a megabyte left unread: the connection closes
        (request_head(chunked=True) + b"zz\r\n", True),  # malformed chunks: 400, closes
        (b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", True),
        (b"GET /model HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", False),
    ],
    ids=["long-refused", "malformed-chunks", "unread-chunks", "short-unread"],
)
def test_a_reply_says_whether_its_connection_stays_open(
    server: Server, head: bytes, closes: bool
) -> None:
    """A client that reuses a connection its reply called keep-alive must find it open: the
    decision to close is made before the reply is written, and the reply says it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(head)
        said = reply_head(client).lower()
    assert (b"connection: close" in said) is closes, said
    assert (b"connection: keep-alive" in said) is not closes, said


def test_a_body_whose_chunks_keep_coming_is_cut_off_at_the_deadline(server: Server) -> None:
    """One-byte chunks, each with as long an extension as gunicorn takes, sent faster than the
    server can parse them (a parse each), so that data is always waiting: the server still reads
    them a few at a time, lets everyone else have their turn, and answers 408 at the request's
    deadline. A probe sent meanwhile is answered before that reply."""
    chunk = b"1;" + b"a" * 8000 + b"\r\n \r\n"
    stop = threading.Event()
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as client:
        client.sendall(request_head(chunked=True, path="/predict/batch"))

        def feed() -> None:
            with contextlib.suppress(OSError):
                for _ in range(150):  # 15,000 bytes of body, within what chunks may hold
                    if stop.is_set():
                        return
                    client.sendall(chunk * 100)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(1.0)
        probe_status = call(server.base + "/healthz")[0]
        probe_answered = time.monotonic()
        head = reply_head(client)
        replied = time.monotonic()
        stop.set()
    feeder.join()
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
    assert probe_status == 200 and probe_answered < replied


def test_clients_that_never_read_their_replies_are_cut_off(server: Server) -> None:
    """A client that asks for large replies and never reads them holds its slot only until its
    socket's write deadline: then the server closes the connection."""
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.settimeout(120)
        client.connect(("127.0.0.1", server.port))
        client.sendall(b"GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
        time.sleep(event_loop.SOCKET_SECONDS + 5)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(1 << 20):  # what was in flight, then the end
                received += len(chunk)
    assert received < 4 * (1 << 20)  # not all four replies: the server gave up writing them
    assert call(server.base + "/healthz")[0] == 200


def test_silent_connections_beyond_the_old_slots_leave_room_for_a_probe(server: Server) -> None:
    """Three hundred connections that say nothing (more than a worker held before) while a new
    one asks for /healthz: it is answered before the silent ones time out, since a worker holds
    GUNICORN_WORKER_CONNECTIONS of them."""
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(300)]
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=4) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_reply(probe)[0] == 200
    finally:
        for client in silent:
            client.close()


def test_a_head_of_too_many_lines_is_refused_before_the_app(server: Server) -> None:
    """gunicorn takes at most 50 header lines: a request of sixty (each as long as gunicorn
    allows) is refused by gunicorn itself, and the app parses none of it."""
    line = b"Accept-Language: " + b"a," * 4000 + b"\r\n"
    head = b"GET /nope HTTP/1.1\r\nHost: x\r\n" + line * 60 + b"\r\n"
    status, _ = send(server, head)
    assert status in (400, 431)
    assert call(server.base + "/healthz")[0] == 200

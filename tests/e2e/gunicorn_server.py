"""Helpers for the end-to-end tests: a real gunicorn serving the app on free loopback ports, a
small HTTP client, and a bounded load generator. The fixtures are in conftest.py."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, body: object | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@dataclass
class Server:
    """A gunicorn process; its output goes to a file, so that no pipe can fill and block it."""

    base: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def start(port: int, log_path: Path, **env: str) -> subprocess.Popen:
    with log_path.open("w") as log:
        return subprocess.Popen(
            [str(GUNICORN), "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env={**os.environ, "PORT": str(port), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_ready(server: Server, seconds: float = 120) -> None:
    """Until /readyz answers 200; generous, so that a fully loaded machine still gets there."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {server.log()}")
        try:
            if call(server.base + "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("not ready in time")


@contextlib.contextmanager
def served(**env: str) -> Iterator[Server]:
    """gunicorn serving the app until the block ends."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="soulsync-gunicorn-") as folder:
        log_path = Path(folder) / "gunicorn.log"
        server = Server(f"http://127.0.0.1:{port}", port, start(port, log_path, **env), log_path)
        try:
            wait_ready(server)
            yield server
        finally:
            try:
                server.stop()
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def accepted_connections(server: Server) -> int:
    """Client connections the server's workers have accepted (their open sockets in
    /proc/net/tcp, established, on the server's port)."""
    inodes = set()
    for pid in server.worker_pids():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == server.port and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


def in_background(function, *args, **kwargs) -> Future:
    """Run `function` in a thread of its own; the future gives its result."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)

    threading.Thread(target=run, daemon=True).start()
    return future


def read_reply(client: socket.socket) -> tuple[int, bytes]:
    """(status, body) of the one HTTP/1.1 reply on a connection the server closes after it
    (a reset after the reply, from a server that closed with the request's body unread, ends
    it as well)."""
    data = b""
    try:
        while chunk := client.recv(65536):
            data += chunk
    except ConnectionResetError:
        if not data:
            raise
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class LoadResult:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)


def load(
    port: int,
    path: str,
    body: bytes,
    requests: int,
    clients: int,
    seconds: float = 600,
    keep_alive: bool = True,
    on_progress: dict[int, threading.Event] | None = None,
) -> LoadResult:
    """Send `requests` POSTs from `clients` threads (bounded in count and time); a failed
    connection is counted and replaced. `on_progress` maps a sent count to an event it sets."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": "application/json"}
    if not keep_alive:
        headers["Connection"] = "close"

    def client() -> None:
        connection: http.client.HTTPConnection | None = None
        try:
            while time.monotonic() < deadline:
                with lock:
                    if result.sent >= requests:
                        return
                    result.sent += 1
                    event = (on_progress or {}).get(result.sent)
                if event:
                    event.set()
                try:
                    if connection is None:
                        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    connection.request("POST", path, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    with lock:
                        result.statuses[response.status] = (
                            result.statuses.get(response.status, 0) + 1
                        )
                    if not keep_alive or response.will_close:
                        connection.close()
                        connection = None
                except (OSError, http.client.HTTPException) as error:
                    with lock:
                        result.errors.append(type(error).__name__)
                    if connection is not None:
                        connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result

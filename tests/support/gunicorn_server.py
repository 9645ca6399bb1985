"""Helpers of the end-to-end tests beside bench/harness.py's server (which they share with the
benches): the connections a server has accepted, work in the background, and a bounded load
generator. The fixtures are in conftest.py."""

from __future__ import annotations

import contextlib
import http.client
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import Server


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

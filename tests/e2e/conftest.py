"""End-to-end fixtures: the service under a real gunicorn, on free loopback ports."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from bench.harness import Server, free_port, served


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder starts real servers: marked `e2e`, left out of `make quick`."""
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One gunicorn with the default settings, shared by the tests that only send requests."""
    with served() as running:
        yield running


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Start a gunicorn of the test's own (settings as environment variables), for tests that
    stop, kill or load it; every one is stopped when the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda **env: stack.enter_context(served(**env))


class _Metadata(http.server.BaseHTTPRequestHandler):
    """A stand-in for the metadata server's identity endpoint (no real one runs here)."""

    requests: ClassVar[list[tuple[str, dict[str, str]]]]
    status: ClassVar[int]

    def do_GET(self) -> None:
        type(self).requests.append((self.path, dict(self.headers)))
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"header.payload.signature")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metadata() -> Iterator[tuple[str, type[_Metadata]]]:
    """(host:port, handler): a metadata server stand-in on a free port, for GCE_METADATA_HOST;
    the handler keeps the requests it got, and answers `status` (200 by default)."""
    handler = type("Metadata", (_Metadata,), {"requests": [], "status": 200})
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{port}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()

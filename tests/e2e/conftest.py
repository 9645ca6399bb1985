"""A real gunicorn serving the app on a free loopback port, and a small HTTP client."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
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


def start(port: int, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(GUNICORN), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(base: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {process.communicate()[0]}")
        try:
            if call(base + "/readyz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("not ready in time")


@contextlib.contextmanager
def running_server(**env: str) -> Iterator[str]:
    """gunicorn serving the app until the block ends; yields its base URL."""
    with served(**env) as (base, _):
        yield base


@contextlib.contextmanager
def served(**env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    process = start(port, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)

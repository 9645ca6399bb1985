"""The real service under gunicorn, on a free loopback port, called over HTTP."""

from __future__ import annotations

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

import pytest

from soulsync.questionnaire import CONTRACT_EXAMPLE

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


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    process = start(port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)


def test_contract_over_http(server) -> None:
    base, _ = server
    for path in ("/predict", "/prediction/"):
        status, reply = call(base + path, CONTRACT_EXAMPLE)
        assert status == 200
        assert reply["message"] == "Prediction successful"
        assert reply["result"] in ("Depression", "No Depression")


def test_bad_input_over_http(server) -> None:
    base, _ = server
    status, reply = call(base + "/predict", {**CONTRACT_EXAMPLE, "Pressure": 9})
    assert status == 422 and "Pressure" in reply["errors"]["json"]


def test_sigterm_stops_cleanly_and_logs_no_answers(server) -> None:
    base, process = server
    call(base + "/predict", {**CONTRACT_EXAMPLE, "WSHours": 11})
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    log, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert time.monotonic() - started < 10
    assert "POST /predict" in log
    assert "WSHours" not in log and '"11"' not in log
    assert "Traceback" not in log


def test_bad_model_stops_gunicorn_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "missing.tflite"
    process = start(free_port(), SOULSYNC_MODEL_PATH=str(path))
    try:
        log, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0
    assert f"soulsync: cannot load model {path}: no such file" in log
    assert "Traceback" not in log

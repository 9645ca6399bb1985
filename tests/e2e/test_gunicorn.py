"""The real service under gunicorn, on a free loopback port, called over HTTP."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from soulsync.questionnaire import CONTRACT_EXAMPLE
from tests.e2e.conftest import call, free_port, served, start


@pytest.fixture(scope="module")
def server():
    with served() as (base, process):
        yield base, process


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

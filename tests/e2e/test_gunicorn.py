"""The real service under gunicorn, on a free loopback port, called over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from soulsync.questionnaire import CONTRACT_EXAMPLE
from tests.e2e.conftest import call, free_port, served, start

CANARY = "zq-canary-5521"


@pytest.fixture(scope="module")
def server():
    with served() as server:
        yield server


def test_contract_over_http(server) -> None:
    for path in ("/predict", "/prediction/"):
        status, reply = call(server.base + path, CONTRACT_EXAMPLE)
        assert status == 200
        assert reply["message"] == "Prediction successful"
        assert reply["result"] in ("Depression", "No Depression")


def test_bad_input_over_http(server) -> None:
    status, reply = call(server.base + "/predict", {**CONTRACT_EXAMPLE, "Pressure": 9})
    assert status == 422 and "Pressure" in reply["errors"]["json"]


def test_sigterm_stops_cleanly_and_logs_only_json_without_answers(server) -> None:
    call(
        server.base + "/predict",
        {**CONTRACT_EXAMPLE, "SleepDr": "Lebih dari 8 jam", "note": CANARY},
    )
    call(server.base + "/predict", {**CONTRACT_EXAMPLE, "Pressure": CANARY})
    started = time.monotonic()
    assert server.stop(timeout=10) == 0
    assert time.monotonic() - started < 10
    log = server.log()
    lines = [json.loads(line) for line in log.splitlines()]  # every line is JSON
    assert any(line["message"] == "POST /predict 200" for line in lines)
    assert {line["severity"] for line in lines} == {"INFO"}
    assert CANARY not in log and "Lebih dari 8 jam" not in log
    assert "Traceback" not in log


def test_bad_model_stops_gunicorn_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "missing.tflite"
    log_path = tmp_path / "gunicorn.log"
    process = start(free_port(), log_path, SOULSYNC_MODEL_PATH=str(path))
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = log_path.read_text()
    assert code != 0
    assert f"soulsync: cannot load model {path}: no such file" in log
    assert "Traceback" not in log

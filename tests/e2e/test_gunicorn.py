"""The real service under gunicorn, on a free loopback port, called over HTTP."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from bench.harness import call, free_port, start
from soulsync.questionnaire import CONTRACT_EXAMPLE

CANARY = "zq-canary-5521"


def test_contract_over_http(server) -> None:
    for path in ("/predict", "/prediction/"):
        status, reply = call(server.base + path, CONTRACT_EXAMPLE)
        assert status == 200
        assert reply["message"] == "Prediction successful"
        assert reply["result"] in ("Depression", "No Depression")


def test_bad_input_over_http(server) -> None:
    status, reply = call(server.base + "/predict", {**CONTRACT_EXAMPLE, "Pressure": 9})
    assert status == 422 and "Pressure" in reply["errors"]["json"]


def test_sigterm_stops_cleanly_and_logs_only_json_without_answers(start_server) -> None:
    server = start_server()
    call(
        server.base + "/predict",
        {**CONTRACT_EXAMPLE, "SleepDr": "Lebih dari 8 jam", "note": CANARY},
    )
    call(server.base + "/predict", {**CONTRACT_EXAMPLE, "Pressure": CANARY})
    assert server.stop() == 0
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
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = log_path.read_text()
    assert code != 0
    assert f"soulsync: cannot load model {path}: no such file" in log
    assert "Traceback" not in log


def test_a_metrics_folder_that_does_not_exist_yet_is_created(start_server, tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet"
    server = start_server(PROMETHEUS_MULTIPROC_DIR=str(folder))
    with urllib.request.urlopen(server.base + "/metrics", timeout=60) as response:
        assert response.status == 200
    assert list(folder.glob("*.db"))


def test_gunicorn_leaves_no_metrics_folder_behind(start_server, tmp_path: Path) -> None:
    server = start_server(TMPDIR=str(tmp_path))
    assert len(list(tmp_path.glob("soulsync-metrics-*"))) == 1
    assert server.stop() == 0
    assert list(tmp_path.glob("soulsync-metrics-*")) == []


def test_metrics_have_a_port_of_their_own_on_loopback(start_server) -> None:
    metrics_port = free_port()
    server = start_server(SOULSYNC_METRICS_PORT=str(metrics_port))
    assert call(server.base + "/metrics")[0] == 404
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=60) as reply:
        assert reply.status == 200 and b"soulsync_http_requests_total" in reply.read()
    assert call(server.base + "/monitoring")[0] == 404  # drift figures: operators only
    assert call(f"http://127.0.0.1:{metrics_port}/monitoring")[0] == 200
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    local = {fields[1] for fields in listening if fields[3] == "0A"}  # LISTEN
    assert f"0100007F:{metrics_port:04X}" in local  # 127.0.0.1 only
    assert f"00000000:{metrics_port:04X}" not in local

"""Faults under load, against gunicorn on loopback: a worker killed mid-run, SIGTERM with
requests in flight, and a bounded load run that must lose nothing and leak nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.request

import pytest

from bench.harness import call, read_reply, rss_kb
from soulsync.questionnaire import CONTRACT_EXAMPLE
from tests.support.gunicorn_server import accepted_connections, in_background, load

BODY = json.dumps(CONTRACT_EXAMPLE).encode()
BATCH = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * 500}).encode()
IN_FLIGHT = 4


def wait_until(condition, seconds: float = 120) -> bool:
    """Poll `condition` until it holds or a generous deadline passes (a loaded machine is slow,
    never wrong)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_killed_worker_is_replaced_and_the_service_keeps_answering(start_server) -> None:
    server = start_server(WEB_CONCURRENCY="2")
    victim = server.worker_pids()[0]
    halfway = threading.Event()
    running = in_background(
        load,
        server.port,
        "/predict",
        BODY,
        requests=4000,
        clients=8,
        on_progress={1500: halfway},
    )
    assert halfway.wait(600)
    os.kill(victim, signal.SIGKILL)
    result = running.result(timeout=600)
    # Only requests in flight on the killed worker may fail: at most one per client
    # connected to it.
    assert result.sent == 4000
    assert len(result.errors) <= 8, result.errors
    assert result.ok == 4000 - len(result.errors)
    assert set(result.statuses) == {200}
    assert wait_until(lambda: len(server.worker_pids()) == 2)
    workers = server.worker_pids()
    assert len(workers) == 2 and victim not in workers
    assert call(server.base + "/readyz")[0] == 200
    print(
        f"worker kill: {result.sent} sent, {len(result.errors)} failed "
        f"({', '.join(sorted(set(result.errors))) or 'none'}), replaced by {workers}"
    )


def test_sigterm_lets_requests_in_flight_finish(start_server) -> None:
    """Batches whose last byte arrives after SIGTERM are still answered, and then it exits 0.
    (In flight by construction, held at their last byte: not by guessing how fast they run.)"""
    server = start_server(WEB_CONCURRENCY="1")
    head = (
        f"POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BATCH)}\r\nConnection: close\r\n\r\n"
    ).encode()
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(IN_FLIGHT)]
    try:
        for client in clients:
            client.sendall(head + BATCH[:-1])
        assert wait_until(lambda: accepted_connections(server) >= IN_FLIGHT)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        for client in clients:  # every last byte first: each request's deadline runs
            client.sendall(BATCH[-1:])
        replies = []
        for client in clients:
            client.settimeout(600)
            replies.append(read_reply(client))
    finally:
        for client in clients:
            client.close()
    assert server.process.wait(timeout=600) == 0
    stopped = time.monotonic() - started
    assert [status for status, _ in replies] == [200] * IN_FLIGHT
    assert all(json.loads(body)["count"] == 500 for _, body in replies)
    print(
        f"SIGTERM with {IN_FLIGHT} batches in flight: all answered 200, stopped in {stopped:.2f} s"
    )


@pytest.mark.parametrize("requests", [20_000])
def test_load_loses_nothing_and_leaks_nothing(start_server, requests: int) -> None:
    server = start_server(WEB_CONCURRENCY="2")
    warm = load(server.port, "/predict", BODY, requests=2000, clients=16)
    assert warm.ok == 2000
    before = {pid: rss_kb(pid) for pid in server.worker_pids()}
    started = time.monotonic()
    result = load(server.port, "/predict", BODY, requests=requests, clients=16)
    seconds = time.monotonic() - started
    after = {pid: rss_kb(pid) for pid in server.worker_pids()}
    assert result.errors == [] and result.statuses == {200: requests}
    assert set(after) == set(before)  # no worker died
    for pid in before:
        assert after[pid] <= before[pid] * 1.10, (pid, before[pid], after[pid])
    print(
        f"load: {requests} requests, 16 clients, {seconds:.1f} s "
        f"({requests / seconds:.0f}/s), 0 errors; worker RSS before {before} kB, "
        f"after {after} kB"
    )


def test_metrics_add_up_across_workers(start_server) -> None:
    """prometheus-client's multiprocess mode: /metrics counts every worker's requests, whichever
    worker answers the scrape."""
    server = start_server(WEB_CONCURRENCY="2")
    result = load(server.port, "/predict", BODY, requests=600, clients=8)
    assert result.ok == 600
    sample = 'soulsync_http_requests_total{endpoint="/predict",method="POST",status="200"}'
    for _ in range(4):  # several scrapes, so that both workers answer some
        with urllib.request.urlopen(server.base + "/metrics", timeout=10) as response:
            text = response.read().decode()
        (line,) = [x for x in text.splitlines() if x.startswith(sample + " ")]
        assert float(line.rsplit(" ", 1)[1]) == 600
    version = call(server.base + "/readyz")[1]["model_version"]
    labels = f'group="students",model_version="{version}"'

    # The drift counts add up across the workers too, each worker's in steps of
    # PUBLISH_EVERY, each step's counts with noise of their own: of 600 split between two
    # workers, 400, 500 or all 600 are published, give or take the noise.
    def published(series: str) -> float:
        (line,) = [x for x in text.splitlines() if x.startswith(series + " ")]
        return float(line.rsplit(" ", 1)[1])

    depression = published(f'soulsync_predictions_total{{{labels},result="Depression"}}')
    steps = round(depression / 100)
    assert steps in (4, 5, 6) and abs(depression - steps * 100) <= 40
    pressure = published(f'soulsync_answers_total{{answer="4",{labels},question="Pressure"}}')
    assert abs(pressure - steps * 100) <= 40
    monitoring = call(server.base + "/monitoring")[1]
    assert abs(monitoring["groups"]["students"]["questionnaires"] - steps * 100) <= 60
    assert "soulsync_model_load_seconds" in text


def test_a_worker_that_stops_publishes_the_drift_counts_it_held(start_server) -> None:
    """A worker that exits (here told to by SIGTERM; gunicorn starts another) publishes what it
    still held of a group it had screened a step of: 150 students give 100 at the step and the
    other 50 at the exit, each publication with its noise."""
    server = start_server(WEB_CONCURRENCY="1")
    (worker,) = server.worker_pids()
    assert load(server.port, "/predict", BODY, requests=150, clients=1).ok == 150
    os.kill(worker, signal.SIGTERM)
    assert wait_until(lambda: len(server.worker_pids()) == 1 and worker not in server.worker_pids())
    assert call(server.base + "/readyz")[0] == 200
    students = call(server.base + "/monitoring")[1]["groups"]["students"]["questionnaires"]
    assert abs(students - 150) <= 40 and abs(students - 100) > abs(students - 150)

"""Faults under load, against gunicorn on loopback: a worker killed mid-run, SIGTERM with
requests in flight, and a bounded load run that must lose nothing and leak nothing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import urllib.request
from concurrent.futures import Future
from pathlib import Path

import pytest

from soulsync.questionnaire import CONTRACT_EXAMPLE
from tests.e2e.conftest import call, load, rss_kb, served

BODY = json.dumps(CONTRACT_EXAMPLE).encode()
BATCH = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * 1000}).encode()
THREADS = 4


def accepted_connections(server) -> int:
    """Client connections the server's workers have accepted (open sockets of theirs in
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


def test_a_killed_worker_is_replaced_and_the_service_keeps_answering() -> None:
    with served(WEB_CONCURRENCY="2", GUNICORN_THREADS=str(THREADS)) as server:
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
        assert halfway.wait(60)
        os.kill(victim, signal.SIGKILL)
        result = running.result(timeout=120)
        # Only requests in flight on the killed worker may fail: at most one per client
        # connected to it, and never more than its threads plus the clients' connections.
        assert result.sent == 4000
        assert len(result.errors) <= 8, result.errors
        assert result.ok == 4000 - len(result.errors)
        assert set(result.statuses) == {200}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(server.worker_pids()) < 2:
            time.sleep(0.1)
        workers = server.worker_pids()
        assert len(workers) == 2 and victim not in workers
        assert call(server.base + "/readyz")[0] == 200
        print(
            f"worker kill: {result.sent} sent, {len(result.errors)} failed "
            f"({', '.join(sorted(set(result.errors))) or 'none'}), replaced by {workers}"
        )


def test_sigterm_lets_requests_in_flight_finish() -> None:
    with served(WEB_CONCURRENCY="1", GUNICORN_THREADS=str(THREADS)) as server:
        running = in_background(
            load,
            server.port,
            "/predict/batch",
            BATCH,
            requests=THREADS,
            clients=THREADS,
            keep_alive=False,
        )
        # In flight means accepted by the worker: wait until it holds all four connections.
        deadline = time.monotonic() + 10
        while accepted_connections(server) < THREADS and time.monotonic() < deadline:
            time.sleep(0.002)
        assert accepted_connections(server) == THREADS
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        result = running.result(timeout=30)
        assert server.process.wait(timeout=10) == 0
        stopped = time.monotonic() - started
        assert result.statuses == {200: THREADS}, (result.statuses, result.errors)
        assert stopped < 10
        print(
            f"SIGTERM with {THREADS} batches in flight: all answered 200, "
            f"stopped in {stopped:.2f} s"
        )


@pytest.mark.parametrize("requests", [20_000])
def test_load_loses_nothing_and_leaks_nothing(requests: int) -> None:
    with served(WEB_CONCURRENCY="2", GUNICORN_THREADS="8") as server:
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


def test_metrics_add_up_across_workers() -> None:
    """prometheus-client's multiprocess mode: /metrics counts every worker's requests, whichever
    worker answers the scrape."""
    with served(WEB_CONCURRENCY="2", GUNICORN_THREADS="4") as server:
        result = load(server.port, "/predict", BODY, requests=600, clients=8)
        assert result.ok == 600
        sample = 'soulsync_http_requests_total{endpoint="/predict",method="POST",status="200"}'
        for _ in range(4):  # several scrapes, so that both workers answer some
            with urllib.request.urlopen(server.base + "/metrics", timeout=10) as response:
                text = response.read().decode()
            (line,) = [x for x in text.splitlines() if x.startswith(sample + " ")]
            assert float(line.rsplit(" ", 1)[1]) == 600
        assert 'soulsync_predictions_total{result="Depression"} 600.0' in text
        assert "soulsync_model_load_seconds" in text

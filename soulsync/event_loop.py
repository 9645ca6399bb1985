"""What the service adds when it runs on gevent's event loop (gunicorn's gevent worker): a
deadline per request on real time, a fair turn for other connections after each request, and
the loop's lag as a metric. Outside gevent (tests, a development server) nothing here runs.

Every request of a worker shares one loop, and a request holds it for as long as it computes:
the limits of each endpoint keep that short (docs/operations.md); these keep the rest fair.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gevent
from flask_smorest import abort
from gevent import monkey
from prometheus_client import Gauge, Histogram
from werkzeug.exceptions import HTTPException

from soulsync import texts
from soulsync.metrics import ServiceMetrics

logger = logging.getLogger("soulsync")

#: The most a request may take once its head has arrived: reading its body and the app's work.
#: gunicorn's keepalive bounds the head itself.
REQUEST_SECONDS = 5.0
#: How often the loop's lag is sampled.
LAG_SAMPLE_SECONDS = 0.25
#: How often the accept queue is read, and at most how often a full queue is logged.
QUEUE_SAMPLE_SECONDS = 1.0
QUEUE_WARNING_SECONDS = 60.0
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def running_on_gevent() -> bool:
    """Whether this process runs on gevent's loop (gunicorn's gevent worker patches sockets)."""
    return monkey.is_module_patched("socket")


def took_too_long() -> HTTPException:
    """408; the server then closes the connection if the body has not ended (soulsync/server.py):
    what is left of it cannot be read as a request."""
    try:
        abort(408, message=texts.REQUEST_TIMEOUT)
    except HTTPException as error:
        return error
    raise AssertionError("abort returned")


class RequestDeadline:
    """WSGI middleware: a request still being read or computed REQUEST_SECONDS after it reached
    the app is answered 408 (gevent raises in it at its next wait, such as reading the body)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        with gevent.Timeout(self.seconds, took_too_long()):
            return self.app(environ, start_response)


def take_turn() -> None:
    """After each request: let the loop poll every socket before this connection's next request
    runs. A plain yield (sleep(0)) runs the greenlets already waiting first, so connections with
    a request queued would be served again and again while a new one (a probe) waited; waiting
    for the loop to be idle lets it accept and read the others first."""
    gevent.idle()


def accept_queue(port: int, table: Path = Path("/proc/net/tcp")) -> int | None:
    """How many connections to `port` wait for a worker to accept them (the listening socket's
    queue, from Linux's socket table), or None where there is no such table. They wait when
    every connection slot is in use, or while the loop is busy."""
    try:
        with table.open(encoding="ascii") as lines:
            next(lines)  # the header
            for line in lines:
                fields = line.split()
                if fields[3] != "0A":  # listening sockets come first; the rest do not matter
                    break
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return int(fields[4].split(":")[1], 16)
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return None


def watch_lag(metrics: ServiceMetrics, port: int, slots: int) -> gevent.Greenlet:
    """Sample how late the loop runs a timer (the wait any new request meets before its turn)
    and, every QUEUE_SAMPLE_SECONDS, how many connections wait to be accepted: a line in the
    log when they keep waiting, since that means every connection slot is in use."""
    lag = Gauge(
        "soulsync_event_loop_lag_seconds",
        "How late this worker's event loop ran a timer, last sample (largest worker).",
        multiprocess_mode="livemax",
        registry=metrics.registry,
    )
    lags = Histogram(
        "soulsync_event_loop_lag_seconds_sampled",
        f"How late the event loop ran a timer, sampled every {LAG_SAMPLE_SECONDS} s.",
        buckets=LAG_BUCKETS,
        registry=metrics.registry,
    )

    waiting = Gauge(
        "soulsync_accept_queue",
        "Connections waiting to be accepted (all connection slots in use, or a busy loop).",
        multiprocess_mode="livemax",
        registry=metrics.registry,
    )

    def sample() -> None:
        next_queue_sample, queued_before, warned_at = 0.0, 0, -QUEUE_WARNING_SECONDS
        while True:
            due = time.monotonic() + LAG_SAMPLE_SECONDS
            gevent.sleep(LAG_SAMPLE_SECONDS)
            now = time.monotonic()
            late = max(0.0, now - due)
            lag.set(late)
            lags.observe(late)
            if now < next_queue_sample:
                continue
            next_queue_sample = now + QUEUE_SAMPLE_SECONDS
            queued = accept_queue(port) or 0
            waiting.set(queued)
            if queued and queued_before and now - warned_at >= QUEUE_WARNING_SECONDS:
                logger.warning(
                    "%d connections are waiting to be accepted: every one of this worker's %d "
                    "connection slots may be in use (GUNICORN_WORKER_CONNECTIONS)",
                    queued,
                    slots,
                )
                warned_at = now
            queued_before = queued

    return gevent.spawn(sample)

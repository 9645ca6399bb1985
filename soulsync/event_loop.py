"""What the service adds when it runs on gevent's event loop (gunicorn's gevent worker): a
deadline per request on real time, a fair turn for the other connections when one has kept the
loop from polling, a way for the app to close the connection it answers on, and the loop's lag
as a metric. Outside gevent (tests, a development server) nothing here runs.

Every request of a worker shares one loop, and a request holds it for as long as it computes:
the limits of each endpoint keep that short (docs/operations.md); these keep the rest fair.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from gevent import monkey
from prometheus_client import Gauge, Histogram
from werkzeug.exceptions import RequestTimeout

from soulsync import texts
from soulsync.metrics import ServiceMetrics

logger = logging.getLogger("soulsync")

#: The most a request may take once its head has arrived: reading its body and the app's work.
#: gunicorn's keepalive bounds the head itself.
REQUEST_SECONDS = 5.0
#: How long the loop may go without polling its sockets before a request, once answered, lets
#: the others have their turn: a request that computed that long, or a connection whose next
#: requests were already waiting in its socket (a client that pipelines), would otherwise be
#: served again and again while a new connection or a probe waited.
FAIR_TURN_AFTER = 0.002
#: The turn itself: a timer this short, so that the loop polls every socket and serves whoever
#: is ready before this connection goes on.
FAIR_TURN_WAIT = 0.0005
#: How often the loop's lag is sampled.
LAG_SAMPLE_SECONDS = 0.25
#: How often the accept queue is read, and at most how often a full queue is logged.
QUEUE_SAMPLE_SECONDS = 1.0
QUEUE_WARNING_SECONDS = 60.0
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def running_on_gevent() -> bool:
    """Whether this process runs on gevent's loop (gunicorn's gevent worker patches sockets)."""
    return monkey.is_module_patched("socket")


class TookTooLong(RequestTimeout):
    """408, raised in a request by its deadline's timer (made only when the timer fires). The
    connection then closes: what is left of the body cannot be read as a request."""

    def __init__(self) -> None:
        super().__init__()
        # What flask-smorest's abort attaches, for its error handler: the reply's message.
        self.data = {"message": texts.REQUEST_TIMEOUT}


#: A request body the app has read to its end says so in its environ (`body_read`).
BODY_READ = "soulsync.body_read"
#: What is left of a body the app did not read (a refused one, or one sent to an endpoint that
#: takes none) is read by the server before the connection's next request, up to this much;
#: a longer one, or one sent in chunks (each chunk costs a parse), closes the connection.
LEFTOVER_BYTES = 64 * 1024
#: The client's connection, in a request's environ (gunicorn's name for it).
CLIENT_SOCKET = "gunicorn.socket"
#: The most a reply may wait for its client to take its next bytes, and a request for its next
#: bytes: a client that stops reading cannot hold its connection's slot past it.
SOCKET_SECONDS = 10.0


def body_read(environ: dict[str, Any]) -> None:
    """Note that the request's body has been read to its end."""
    environ[BODY_READ] = True


def body_left(environ: dict[str, Any]) -> bool:
    """Whether the request's body is left, in part or whole, for the server to read or drop."""
    if environ.get(BODY_READ):
        return False
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower().endswith("chunked"):
        return True
    return environ.get("CONTENT_LENGTH") not in (None, "", "0")


def too_much_left(environ: dict[str, Any]) -> bool:
    """Whether what is left of the body is more than the server should read before the next
    request: one sent in chunks, or over LEFTOVER_BYTES."""
    if not body_left(environ):
        return False
    length = environ.get("CONTENT_LENGTH")
    return not length or int(length) > LEFTOVER_BYTES


class RequestDeadline:
    """WSGI middleware for the requests of the gevent worker: a request still being read or
    computed REQUEST_SECONDS after it reached the app is answered 408 (gevent raises in it at its
    next wait, such as reading the body); its client's socket waits at most SOCKET_SECONDS for
    each read and write (a client that stops reading its reply); and a reply after which the
    connection will close (a 408, or a body left that the server will not read) says so in its
    `Connection` header, before it is written."""

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        client = environ.get(CLIENT_SOCKET)
        if client is not None:
            client.settimeout(SOCKET_SECONDS)

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            if status.startswith("408") or too_much_left(environ):
                close_connection()
            return start_response(status, headers, exc_info)

        with gevent.Timeout(self.seconds, TookTooLong):
            return self.app(environ, start)


class _Polls:
    """When the loop last polled its sockets: a check watcher (it runs after every poll) notes
    the time, at the cost of a call per turn of the loop rather than per request."""

    #: Until the watcher starts (outside gunicorn's gevent worker: tests, scripts), never late.
    polled_at = float("inf")

    @classmethod
    def start(cls) -> None:
        watcher = gevent.get_hub().loop.check(ref=False)  # keeps nothing alive
        watcher.start(cls._polled)
        cls._watcher = watcher

        cls.polled_at = time.perf_counter()

    @classmethod
    def _polled(cls) -> None:
        cls.polled_at = time.perf_counter()


def start_fair_turns() -> None:
    """Watch when this worker's loop polls (once per worker, on gevent)."""
    _Polls.start()


def take_turn() -> None:
    """After a request (and between the pieces of a long body): if the loop has not polled its
    sockets for FAIR_TURN_AFTER, wait for a timer, which lets it poll and serve whoever is ready
    first. Otherwise go straight on: a connection that waited for its request, as a pooled
    client's does, has just been served in its turn, and costs the loop nothing more."""
    if time.perf_counter() - _Polls.polled_at > FAIR_TURN_AFTER:
        gevent.sleep(FAIR_TURN_WAIT)


#: How the server closes the connection of the request being answered (gunicorn's request's
#: force_close, set by soulsync/server.py's pre_request hook); unset outside gunicorn.
_CLOSE: ContextVar[Callable[[], None] | None] = ContextVar("soulsync_close", default=None)


def closing_with(close: Callable[[], None]) -> None:
    """Name how the server closes the connection of the request about to run (per greenlet:
    each request runs in its connection's own)."""
    _CLOSE.set(close)


def close_connection() -> None:
    """Have the server close the connection once this request's reply is written, and say so in
    the reply (`Connection: close`): its body will not be read to its end."""
    close = _CLOSE.get()
    if close is not None:
        close()


@dataclass(frozen=True)
class PortUse:
    """A listening port's connections, from Linux's socket table."""

    #: Connections waiting for a worker to accept them: they wait when every connection slot
    #: is in use, or while the loop is busy.
    waiting: int
    #: Connections accepted and open, each holding a slot (every worker's: they share the port).
    accepted: int


def port_use(port: int, table: Path = Path("/proc/net/tcp")) -> PortUse | None:
    """How `port` is used, or None where there is no socket table or the port is not in it."""
    waiting, established, listening = 0, 0, False
    local = f":{port:04X}"
    try:
        with table.open(encoding="ascii") as lines:
            next(lines)  # the header
            for line in lines:
                fields = line.split()
                if not fields[1].endswith(local):
                    continue
                if fields[3] == "0A":  # listening
                    waiting, listening = int(fields[4].split(":")[1], 16), True
                elif fields[3] == "01":  # established, accepted or waiting to be
                    established += 1
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    if not listening:
        return None
    return PortUse(waiting=waiting, accepted=max(0, established - waiting))


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
    connections = Gauge(
        "soulsync_connections",
        f"Client connections accepted and open, all workers' (each worker has {slots} slots).",
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
            use = port_use(port) or PortUse(waiting=0, accepted=0)
            queued = use.waiting
            waiting.set(queued)
            connections.set(use.accepted)
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

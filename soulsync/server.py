"""How gunicorn runs the service (gunicorn.conf.py names these): gevent's worker, a logger that
writes no client bytes, and the hooks that keep turns fair and errors in JSON.

Why gevent: a connection costs a greenlet, not a thread, so slow clients (a byte and then
silence, headers or a body trickled) cannot take the workers away from everyone else
(docs/performance.md's history has the comparison with gthread; `python -m bench hostile`
measures the protections).

gunicorn and gevent have no public hook for five protections, so they stand here and in
soulsync/event_loop.py's RequestDeadline, each with its test:
- gunicorn reads and discards whatever body the app left unread before it parses the
  connection's next request, however long (a Content-Length of a gigabyte, a million chunks),
  and ignores an app's `Connection: close`: `pre_request` hands the app the request's own
  `force_close()` (a method gunicorn's hook hands over but does not document), which the app
  calls before its reply is written when more than `event_loop.LEFTOVER_BYTES` of the body, or
  any of a chunked one, is left; the reply then says `Connection: close`, and `post_request`
  discards, unparsed and for a bounded time, what the client still sends, so that it reads the
  reply rather than a reset (tests/e2e/test_hostile_clients.py).
- gunicorn writes a reply with no deadline: the app gives the client's socket
  (`gunicorn.socket` in the request's environ, which gunicorn does not document) a timeout
  for each read and write (tests/e2e/test_hostile_clients.py).
- gunicorn's own messages about a malformed request carry the client's bytes (the request
  line, a header): `WithheldClientBytes` lets through only gunicorn's messages known to hold
  none and withholds the text of every other (tests/e2e/test_hostile_clients.py).
- gevent prints the errors of its loop (a failed accept, say) as plain text on stderr:
  `post_worker_init` gives them to the JSON log instead (tests/e2e/test_hostile_clients.py).
- when the loop last polled its sockets, for the fair turn: a check watcher of gevent's loop
  (an interface gevent documents as internal; soulsync/event_loop.py;
  tests/e2e/test_hostile_clients.py, a new connection's turn).

One more detail of gunicorn's that it does not document: `worker_exit` finds the app a worker
loaded (whose drift counts it publishes) as the worker's `wsgi` attribute
(tests/e2e/test_faults.py, a worker that stops publishes the drift counts it held).
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

import gevent
from gunicorn.glogging import Logger

from soulsync import event_loop
from soulsync.metrics import LIVE_COUNTS

#: gunicorn's messages that hold nothing a client sent: start-up (a busy port included),
#: workers, signals, shutdown.
_GUNICORN_OWN = (
    "Connection in use:",
    "Invalid address:",
    "Retrying in",
    "Can't connect to",
    "Worker failed to boot",
    "App failed to load",
    "Starting gunicorn",
    "Listening at:",
    "Using worker:",
    "Booting worker",
    "Worker exiting",
    "Handling signal:",
    "Shutting down:",
    "Reason:",
    "Worker (pid:",
    "WORKER TIMEOUT",
    "Worker graceful timeout",
    "graceful stop of workers",
    "Quick shutdown requested",
    "Hang up:",
    "Unhandled signal:",
    "Ignoring unknown signal:",
    "Autorestarting worker",
    "Control socket",
    "Arbiter booted",
)


class WithheldClientBytes(logging.Filter):
    """A logging filter for gunicorn's loggers: a message that is not one of gunicorn's own
    (start-up, workers, signals) may hold what a client sent, so its text and traceback are
    withheld and only its kind (an exception's class) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(_GUNICORN_OWN):
            return True
        kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        record.msg = "gunicorn: a message withheld, as it may hold what a client sent"
        record.msg += f" ({kind})" if kind else ""
        record.args = ()
        record.exc_info = record.exc_text = record.stack_info = None
        return True


class ServerLog(Logger):
    """gunicorn's logger, writing no access line of its own (the app writes one per request,
    in JSON, without bodies or paths)."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        # With a logging config present, stock gunicorn builds every request's access-log
        # fields even when nothing will print them.
        pass


_FAILED_WITH = re.compile(r"failed with ([A-Za-z_][A-Za-z0-9_.]*)")


class _LoopErrors:
    """What gevent's loop would print on stderr, as one JSON log line per report."""

    def __init__(self) -> None:
        # The service's logger, not gunicorn's: gunicorn's withholds what it does not know.
        self.logger = logging.getLogger("soulsync.server")
        self.buffer = ""

    def write(self, text: str) -> int:
        self.buffer += text
        if self.buffer.endswith("\n\n") or len(self.buffer) > 65536:  # gevent ends a report so
            failed = _FAILED_WITH.search(self.buffer)
            kind = failed[1] if failed else "an error"
            # The report's own words (a greenlet's arguments) are withheld: they may hold a
            # client's address or bytes.
            self.logger.error("gevent: %s in the event loop (details withheld)", kind)
            self.buffer = ""
        return len(text)

    def flush(self) -> None:
        pass


#: The most time a closing connection spends discarding what its client still sends.
LINGER_SECONDS = 1.0
#: Before a connection closes on a body the server will not read, what the client still sends
#: is discarded (up to this much, within LINGER_SECONDS) with the reply already sent and the
#: writing side shut: a connection closed while its client is still sending resets, and the
#: client may never read the reply. Reading raw bytes parses nothing.
LINGER_BYTES = 8 * 1024 * 1024
_LINGER_READ_SIZE = 64 * 1024


def discard_until_quiet(client: socket.socket) -> None:
    """Shut the writing side (the reply is sent) and discard what the client still sends, up
    to LINGER_BYTES within LINGER_SECONDS, yielding to the other connections between reads."""
    with gevent.Timeout(LINGER_SECONDS, False):
        try:
            client.shutdown(socket.SHUT_WR)
            discarded = 0
            while discarded < LINGER_BYTES and (data := client.recv(_LINGER_READ_SIZE)):
                discarded += len(data)
                gevent.sleep(0)
        except OSError:
            pass


def pre_request(worker: Any, req: Any) -> None:
    """Before each request: hand the app the request's way to close its connection."""
    if event_loop.running_on_gevent():
        event_loop.closing_with(req.force_close)


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """After each reply: a connection closing on a body left unread first lets its client
    finish sending (unless the worker is shutting down); one that stays open lets the other
    connections have their turn if this one kept the loop from polling (gevent only)."""
    if not event_loop.running_on_gevent():
        return
    if resp is None or resp.should_close():
        client = environ.get(event_loop.CLIENT_SOCKET)
        if worker.alive and client is not None and event_loop.body_left(environ):
            discard_until_quiet(client)
        return
    event_loop.take_turn()


def worker_exit(server: Any, worker: Any) -> None:
    """A worker that exits publishes the drift counts it still holds, where its life's screening
    reached a step (soulsync/metrics.py); gunicorn's worker holds the app it loaded as `wsgi`."""
    live = getattr(getattr(worker, "wsgi", None), "extensions", {}).get(LIVE_COUNTS)
    if live is not None:
        live.flush()


def post_worker_init(worker: Any) -> None:
    gevent.get_hub().exception_stream = _LoopErrors()
    event_loop.start_fair_turns()

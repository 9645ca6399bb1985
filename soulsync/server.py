"""How gunicorn runs the service (gunicorn.conf.py names these): gevent's worker, a logger that
writes no client bytes, and the hooks that keep turns fair and errors in JSON.

Why gevent: a connection costs a greenlet, not a thread, so slow clients (a byte and then
silence, headers or a body trickled) cannot take the workers away from everyone else
(docs/performance.md has the comparison with gthread, from make bench and
bench/slow_clients.py).

gunicorn has no public hook for three protections, so they stand here, each with its test:
- gunicorn reads and discards whatever body the app left unread before it parses the
  connection's next request, however long (a Content-Length of a gigabyte, a million chunks),
  and ignores an app's `Connection: close`: `post_request` reads at most `LEFTOVER_BYTES` of
  it, within `LEFTOVER_SECONDS`, and beyond that closes the connection with the request's own
  `force_close()` (tests/e2e/test_hostile_clients.py).
- gunicorn's own messages about a malformed request carry the client's bytes (the request
  line, a header): `WithheldClientBytes` lets through only gunicorn's messages known to hold
  none and withholds the text of every other (tests/e2e/test_hostile_clients.py).
- gevent prints the errors of its loop (a failed accept, say) as plain text on stderr:
  `post_worker_init` gives them to the JSON log instead (tests/e2e/test_hostile_clients.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import gevent
from gunicorn.glogging import Logger

from soulsync.event_loop import take_turn

#: gunicorn's messages that hold nothing a client sent: start-up, workers, signals, shutdown.
_GUNICORN_OWN = (
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


#: The most of a body the app left unread that the server reads, and for how long, to keep
#: the connection for its next request; beyond either, the connection is closed.
LEFTOVER_BYTES = 64 * 1024
LEFTOVER_SECONDS = 1.0
_READ_SIZE = 8 * 1024


def read_to_its_end(body: Any) -> bool:
    """Whether the request's body (WSGI's `wsgi.input`) ends within `LEFTOVER_BYTES` and
    `LEFTOVER_SECONDS`: a body the app read in full ends at once."""
    try:
        with gevent.Timeout(LEFTOVER_SECONDS):
            for _ in range(LEFTOVER_BYTES // _READ_SIZE + 1):
                if not body.read(_READ_SIZE):
                    return True
    except (gevent.Timeout, Exception):  # too slow, or framing the server cannot read
        return False
    return False


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """After each reply: close the connection rather than read a long unread body, then let
    the other connections have their turn."""
    if not read_to_its_end(environ.get("wsgi.input")):
        req.force_close()
    take_turn()


def post_worker_init(worker: Any) -> None:
    gevent.get_hub().exception_stream = _LoopErrors()

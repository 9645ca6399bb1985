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
  `force_close()` (a method gunicorn's hook hands over but does not document), after a bounded
  lingering read so that the client gets the reply rather than a reset
  (tests/e2e/test_hostile_clients.py).
- gunicorn's own messages about a malformed request carry the client's bytes (the request
  line, a header): `WithheldClientBytes` lets through only gunicorn's messages known to hold
  none and withholds the text of every other (tests/e2e/test_hostile_clients.py).
- gevent prints the errors of its loop (a failed accept, say) as plain text on stderr:
  `post_worker_init` gives them to the JSON log instead (tests/e2e/test_hostile_clients.py).
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

import gevent
from gunicorn.glogging import Logger
from gunicorn.http.errors import ParseException

from soulsync.event_loop import running_on_gevent, take_turn

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


#: What is left of a body the app did not read (a refused one, or one sent to an endpoint that
#: takes none): the server reads up to LEFTOVER_BYTES of a body sent with its length, so that
#: the connection can serve its next request. A longer body, a chunked one (each chunk costs a
#: parse) or a slower one closes the connection instead.
LEFTOVER_BYTES = 64 * 1024
#: The most time that reading, and then discarding what the client still sends, may take.
LEFTOVER_SECONDS = 1.0
#: Before a connection closes on an unread body, what the client still sends is discarded (up
#: to this much, within LEFTOVER_SECONDS) with the reply already sent and the writing side shut:
#: a connection closed while its client is still sending resets, and the client may never read
#: the reply. Reading raw bytes parses nothing.
LINGER_BYTES = 8 * 1024 * 1024
_READ_SIZE = 8 * 1024
_LINGER_READ_SIZE = 64 * 1024


def read_to_its_end(body: Any, chunked: bool) -> bool:
    """Whether the request's body (WSGI's `wsgi.input`) ends within LEFTOVER_BYTES: a body the
    app read in full ends at once; a chunked one must have."""
    try:
        if not body.read(1):
            return True
        if chunked:
            return False
        for _ in range(LEFTOVER_BYTES // _READ_SIZE):
            if not body.read(_READ_SIZE):
                return True
    except (OSError, ParseException):  # the client left, or framing the server cannot read
        return False
    return False


def discard_until_quiet(client: socket.socket) -> None:
    """Shut the writing side (the reply is sent) and discard what the client still sends, up
    to LINGER_BYTES, yielding to the other connections between reads."""
    try:
        client.shutdown(socket.SHUT_WR)
        discarded = 0
        while discarded < LINGER_BYTES and (data := client.recv(_LINGER_READ_SIZE)):
            discarded += len(data)
            gevent.sleep(0)
    except OSError:
        pass


def finish_or_close(req: Any, environ: dict[str, Any], lingering: bool) -> None:
    """Keep the connection only if the request's body has ended (within LEFTOVER_BYTES and
    LEFTOVER_SECONDS); else close it, after discarding what the client still sends (unless the
    worker is shutting down)."""
    body = environ.get("wsgi.input")
    if body is None:
        return
    with gevent.Timeout(LEFTOVER_SECONDS, False):  # on time-out, on to the close below
        if read_to_its_end(body, chunked=environ.get("CONTENT_LENGTH") is None):
            return
        req.force_close()
        if lingering and (client := environ.get("gunicorn.socket")) is not None:
            discard_until_quiet(client)
        return
    req.force_close()


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """After each reply on a connection gunicorn would keep: close it rather than read a long
    unread body (gevent only: gunicorn's threaded worker bounds that itself), then let the
    other connections have their turn."""
    if not running_on_gevent():
        return
    if resp is not None and not resp.should_close():
        finish_or_close(req, environ, lingering=worker.alive)
    take_turn()


def post_worker_init(worker: Any) -> None:
    gevent.get_hub().exception_stream = _LoopErrors()

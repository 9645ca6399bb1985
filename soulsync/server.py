"""How gunicorn runs the service (gunicorn.conf.py names these): a gevent worker whose requests
have a deadline, and a logger that writes no client bytes.

Why gevent: a connection costs a greenlet, not a thread, so slow clients (a byte and then
silence, headers or a body trickled) cannot take the workers away from everyone else, which 8
of them did with gthread's 8 threads; on one CPU it serves as many requests a second as gthread
(docs/performance.md has the figures, from make bench and bench/slow_clients.py).
"""

from __future__ import annotations

from typing import Any

import gevent
from gunicorn.glogging import Logger
from gunicorn.workers.ggevent import GeventWorker

#: The most a request may take once its head has arrived: reading its body, the app's work and
#: writing the reply (a batch of 1,000 takes tens of milliseconds). gunicorn's keepalive (5 s)
#: already bounds the head. A client slower than this is cut off, so a stalled upload holds
#: neither a connection nor the shutdown for long.
REQUEST_SECONDS = 5.0


class ServiceWorker(GeventWorker):
    """gunicorn's gevent worker, with a deadline per request and a turn for other connections
    after each one.

    It overrides `handle_request`, which gunicorn's workers call for each request but which is
    not documented for subclasses: tests/e2e/test_hostile_clients.py fails if that changes.
    """

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        deadline = gevent.Timeout(REQUEST_SECONDS)
        deadline.start()
        try:
            return super().handle_request(listener_name, req, sock, addr)
        except gevent.Timeout as error:
            if error is not deadline:
                raise
            self.log.info("closed a connection whose request took over %s s", REQUEST_SECONDS)
            # Ends the connection's keep-alive loop; gunicorn closes the socket.
            raise StopIteration from None
        finally:
            deadline.close()
            # A connection whose next request has already arrived would otherwise be served
            # again at once, ahead of every other connection: a long tail of latencies.
            gevent.sleep(0)


#: gunicorn's warning for a request it cannot parse, which goes on with the client's bytes
#: (the request line, header names, a chunk's size line).
_MALFORMED = "Invalid request from ip="
#: gunicorn's line for an app that raised, which goes on with the method and path the client
#: sent.
_APP_ERROR = "Error handling request %s %s"


class ServerLog(Logger):
    """gunicorn's logger, writing no client bytes and no access line of its own (the app writes
    one per request, in JSON, without bodies or paths)."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        # With a logging config present, stock gunicorn builds every request's access-log
        # fields even when nothing will print them (7 % of a worker's time, by py-spy).
        pass

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(_MALFORMED):
            msg, args = "refused a malformed request with 4xx (its bytes are not logged)", ()
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg == _APP_ERROR:
            msg, args = "error handling a request (its method and path are not logged)", ()
        super().exception(msg, *args, **kwargs)

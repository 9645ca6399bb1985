"""What gunicorn's post_request hook adds to each request by checking that its body was read to
its end (soulsync/server.py, `finish_or_close`): CPU microseconds per call on a body already
read, as every valid request's is. In-process, no server: the body is an in-memory stream
standing for gunicorn's reader, so the figure is the hook's own work, not gunicorn's read.

    .venv/bin/python bench/leftover_body.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import io
import time

from soulsync.server import finish_or_close


class _Request:
    """Stands for gunicorn's request: only what the hook may call."""

    def force_close(self) -> None:
        raise AssertionError("a body already read must keep its connection")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    environ = {"wsgi.input": io.BytesIO(), "CONTENT_LENGTH": "168"}
    request = _Request()
    started = time.process_time()
    for _ in range(calls):
        finish_or_close(request, environ, lingering=True)
    spent = time.process_time() - started
    print(f"finish_or_close on a body already read: {spent / calls * 1e6:.1f} us of CPU per call")


if __name__ == "__main__":
    main()

"""What gunicorn's post_request hook adds to each request by checking that its body was read to
its end (soulsync/server.py, `read_to_its_end`): CPU microseconds per call on a body already
read, as every valid request's is. In-process, no server.

    .venv/bin/python bench/leftover_body.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import io
import time

from soulsync.server import read_to_its_end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    body = io.BytesIO()
    started = time.process_time()
    for _ in range(calls):
        read_to_its_end(body)
    spent = time.process_time() - started
    print(f"read_to_its_end on a body already read: {spent / calls * 1e6:.1f} us of CPU per call")


if __name__ == "__main__":
    main()

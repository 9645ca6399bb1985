"""Slow clients against gunicorn with this repository's settings: what a normal client gets
while they hold their connections (the hostile-clients goals), with numbers.

N slow connections of each kind are held for HOLD seconds: silence; one byte of a request line,
then silence; a request head trickled a byte every 2 s; a body trickled a byte every 2 s after
its head. Meanwhile a normal client posts the contract example every 100 ms (a new connection
each time, 5 s timeout) and probes /healthz every second (2 s timeout, as Cloud Run's liveness
probe). Then the slow connections close and the normal client goes on for a few seconds.
Last, a new server gets the same slow connections and SIGTERM 4.6 s later: how long it takes
to exit.

    .venv/bin/python -m bench.slow_clients                      # the default worker (gevent)
    .venv/bin/python -m bench.slow_clients -- -k gthread --threads 8   # the old worker, to compare
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import statistics
import sys
import time

from bench.harness import Server, served
from bench.throughput import BODY

HEAD = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
KINDS = {
    "silence": (b"", b""),
    "one byte": (b"P", b""),
    "trickled head": (b"", HEAD + b"X-Slow: 1\r\n" * 100),
    "trickled body": (HEAD + b"Content-Length: 100000\r\n\r\n", b"{" + b" " * 99_999),
}


async def slow_connection(port: int, first: bytes, trickle: bytes, stop: asyncio.Event) -> None:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    try:
        if first:
            writer.write(first)
        position = 0
        while not stop.is_set():
            if writer.is_closing():  # the server cut it off
                return
            if trickle and position < len(trickle):
                writer.write(trickle[position : position + 1])
                position += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
    except OSError:
        pass
    finally:
        writer.close()


async def request(port: int, data: bytes, timeout: float) -> float | None:
    """Seconds to a 200, or None (an error, another status, or the timeout)."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(data)
        status = await asyncio.wait_for(
            reader.readline(), timeout - (time.perf_counter() - started)
        )
        writer.close()
    except (OSError, TimeoutError):
        return None
    return time.perf_counter() - started if b" 200 " in status else None


async def normal_client(port: int, until: float, interval: float, path: str, timeout: float):
    if path == "/predict":
        data = HEAD + f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n".encode() + BODY
    else:
        data = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    results = []
    while time.perf_counter() < until:
        results.append(asyncio.create_task(request(port, data, timeout)))
        await asyncio.sleep(interval)
    return await asyncio.gather(*results)


def summary(results: list[float | None]) -> dict[str, float]:
    answered = [r for r in results if r is not None]
    return {
        "requests": len(results),
        "within 1 s": sum(r <= 1.0 for r in answered) / len(results),
        "p50 ms": statistics.median(answered) * 1000 if answered else float("nan"),
        "max ms": max(answered) * 1000 if answered else float("nan"),
    }


async def sigterm_while_held(server: Server, per_kind: int) -> float:
    """Seconds from SIGTERM to the server's exit, with every kind of slow connection held and
    trickling (Cloud Run kills 10 s after SIGTERM)."""
    stop = asyncio.Event()
    slow = [
        asyncio.create_task(slow_connection(server.port, first, trickle, stop))
        for first, trickle in KINDS.values()
        for _ in range(per_kind)
    ]
    await asyncio.sleep(4.6)  # heads and bodies well under way
    started = time.perf_counter()
    server.process.send_signal(signal.SIGTERM)
    while server.process.poll() is None:
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*slow)
    return seconds


async def attack(port: int, per_kind: int, hold: float, after: float) -> dict:
    stop = asyncio.Event()
    slow = [
        asyncio.create_task(slow_connection(port, first, trickle, stop))
        for first, trickle in KINDS.values()
        for _ in range(per_kind)
    ]
    await asyncio.sleep(1.0)  # every slow connection is open
    until = time.perf_counter() + hold
    during = await asyncio.gather(
        normal_client(port, until, 0.1, "/predict", 5.0),
        normal_client(port, until, 1.0, "/healthz", 2.0),
    )
    stop.set()
    await asyncio.gather(*slow)
    until = time.perf_counter() + after
    recovered = await normal_client(port, until, 0.1, "/predict", 5.0)
    return {
        "predict while held": summary(during[0]),
        "healthz missed while held": sum(r is None for r in during[1]),
        "healthz probes": len(during[1]),
        "predict after": summary(recovered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=50, help="slow connections of each kind")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds they are held")
    parser.add_argument("gunicorn", nargs="*", help="gunicorn settings over gunicorn.conf.py's")
    args = parser.parse_args()
    # asyncio warns when writing to a connection the server has cut off: expected here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    with served(*args.gunicorn) as server:
        found = asyncio.run(attack(server.port, args.per_kind, args.hold, 5.0))
    with served(*args.gunicorn) as server:
        found["SIGTERM to exit, slow connections held (s)"] = asyncio.run(
            sigterm_while_held(server, args.per_kind)
        )
    total = args.per_kind * len(KINDS)
    print(f"{total} slow connections ({', '.join(KINDS)}), held {args.hold:.0f} s:")
    print(json.dumps(found, indent=2))
    during = found["predict while held"]
    met = during["within 1 s"] >= 0.95 and found["healthz missed while held"] == 0
    print(f"goal (95 % within 1 s, no /healthz missed): {'met' if met else 'NOT met'}")
    exited = found["SIGTERM to exit, slow connections held (s)"] < 8
    print(f"goal (exit within 8 s of SIGTERM): {'met' if exited else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

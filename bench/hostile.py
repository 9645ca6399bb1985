"""Fair turns: what a new connection (a liveness probe) waits while busy clients keep a worker
saturated, and what one pipelining connection gets.

Starts gunicorn with this repository's gunicorn.conf.py (WEB_CONCURRENCY=1 unless set), then:
1. `--clients` keep-alive connections each post the costliest valid request (a full batch of
   the server's batch limit) back to back, while a probe opens a new connection every 100 ms
   for GET /healthz: the probe's latencies (p50, p99, max) and the clients' throughput;
2. the same with bodies that are refused (a nested body of the largest size allowed);
3. one connection pipelining 2,000 contract requests: requests per second.

`--compare DIR` runs the same against another checkout (say, a `git worktree` of an older
commit) in the same run, alternating, so that both meet the same machine.

    .venv/bin/python bench/hostile.py [--clients 8] [--seconds 10] [--compare ../old]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from soulsync.questionnaire import CONTRACT_EXAMPLE  # noqa: E402

GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def read_reply(sock: socket.socket, buffer: bytearray) -> int:
    """Read one reply (Content-Length framed) from a keep-alive connection; its status."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buffer[:] = rest[length:]
    return status


def start(checkout: Path, port: int) -> subprocess.Popen:
    log = open(tempfile.mktemp(prefix="fair-turns-", suffix=".log"), "w")  # noqa: SIM115
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "1"),
    }
    process = subprocess.Popen(
        [str(GUNICORN), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if read_reply(sock, bytearray()) == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{checkout}: gunicorn did not start")


def saturate(port: int, request: bytes, clients: int, seconds: float) -> dict[str, float]:
    stop = threading.Event()
    served = [0] * clients

    def client(index: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            buffer = bytearray()
            while not stop.is_set():
                sock.sendall(request)
                read_reply(sock, buffer)
                served[index] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    latencies, missed = [], 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        begin = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                read_reply(sock, bytearray())
            latencies.append(time.monotonic() - begin)
        except OSError:
            missed += 1
        time.sleep(max(0.0, 0.1 - (time.monotonic() - begin)))
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    latencies.sort()
    return {
        "probe p50 ms": 1000 * statistics.median(latencies),
        "probe p99 ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "probe max ms": 1000 * latencies[-1],
        "probes over 2 s": sum(lat > 2 for lat in latencies) + missed,
        "busy req/s": sum(served) / (time.monotonic() - started),
    }


def pipelined(port: int, count: int = 2000) -> float:
    request = post("/predict", json.dumps(CONTRACT_EXAMPLE).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        started = time.monotonic()
        sender = threading.Thread(target=lambda: sock.sendall(request * count), daemon=True)
        sender.start()
        buffer = bytearray()
        for _ in range(count):
            read_reply(sock, buffer)
        return count / (time.monotonic() - started)


def measure(checkout: Path, clients: int, seconds: float) -> dict[str, dict[str, float]]:
    port = free_port()
    process = start(checkout, port)
    try:
        batch = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * batch_limit(checkout)})
        nested = b'{"questionnaires":[' + b",".join([b"[[[[]]]]"] * 50_000) + b"]}"
        valid = post("/predict/batch", batch.encode())
        refused = post("/predict/batch", nested)
        return {
            "valid full batches": saturate(port, valid, clients, seconds),
            "refused nested bodies": saturate(port, refused, clients, seconds),
            "pipelining": {"req/s": pipelined(port)},
        }
    finally:
        process.terminate()
        process.wait(timeout=60)


def batch_limit(checkout: Path) -> int:
    code = "from soulsync.config import from_environment; print(from_environment()['BATCH_LIMIT'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True, check=True
    )
    return int(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--compare", type=Path, help="another checkout to measure alike")
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT}
    if args.compare:
        checkouts["compared"] = args.compare.resolve()
    for name, checkout in checkouts.items():
        print(f"{name} ({checkout}), {args.clients} busy clients, WEB_CONCURRENCY=1:")
        for case, figures in measure(checkout, args.clients, args.seconds).items():
            shown = ", ".join(f"{key} {value:.0f}" for key, value in figures.items())
            print(f"  {case:24s} {shown}")


if __name__ == "__main__":
    main()

"""What the benches and the end-to-end tests share: gunicorn serving an app with a checkout's
gunicorn.conf.py on a free loopback port, a reply read off a raw socket, a process tree's memory
and CPU time, and WSGI environs built by werkzeug for calling an app in-process.

Every wait has a deadline, every server is stopped by its own process id.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
LOOPBACK = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def call(url: str, body: object | None = None, timeout: float = 10) -> tuple[int, Any]:
    """(status, JSON reply) of a GET, or of a POST of `body` as JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- gunicorn -----------------------------------------------------------------------------------


def gunicorn_command(
    *options: str, app: str = "wsgi:app", root: Path = ROOT, config: str | None = None
) -> list[str]:
    """gunicorn with `root`'s gunicorn.conf.py (or `config`), `options` over its settings,
    serving `app`."""
    return [str(GUNICORN), "--config", config or str(root / "gunicorn.conf.py"), *options, app]


def start(
    port: int,
    log_path: Path,
    *options: str,
    app: str = "wsgi:app",
    root: Path = ROOT,
    config: str | None = None,
    prefix: Iterable[str] = (),
    **env: str,
) -> subprocess.Popen:
    """Start gunicorn on `port` as gunicorn_command() says, its output to `log_path` (a file:
    no pipe can fill and block it), `env` over this process's environment. `root` comes first
    on the import path, so that another checkout serves its own code; `prefix` runs it under
    another program (taskset, valgrind)."""
    with log_path.open("w") as log:
        return subprocess.Popen(
            [*prefix, *gunicorn_command(*options, app=app, root=root, config=config)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root), "PORT": str(port), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@dataclass
class Server:
    """A gunicorn process and where it serves."""

    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.process.pid, *self.worker_pids()]

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then its exit status (killed if it has not exited within `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def wait_ready(server: Server, seconds: float = 120, every: float = 0.02) -> float:
    """Until /readyz answers 200, asked `every` so many seconds (generous, so that a fully loaded
    machine still gets there): the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.log()}")
        with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
            if call(server.base + "/readyz", timeout=5)[0] == 200:
                return time.monotonic() - started
        time.sleep(every)
    raise RuntimeError(f"not ready within {seconds} s: {server.log()}")


@contextlib.contextmanager
def served(
    *options: str,
    app: str = "wsgi:app",
    root: Path = ROOT,
    config: str | None = None,
    prefix: Iterable[str] = (),
    ready_within: float = 120,
    ready_every: float = 0.02,
    **env: str,
) -> Iterator[Server]:
    """gunicorn serving, ready, until the block ends (start()'s arguments; wait_ready()'s)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="soulsync-gunicorn-") as folder:
        log_path = Path(folder) / "gunicorn.log"
        process = start(
            port, log_path, *options, app=app, root=root, config=config, prefix=prefix, **env
        )
        server = Server(port, process, log_path)
        try:
            wait_ready(server, ready_within, ready_every)
            yield server
        finally:
            server.stop()


def in_turn(items: Sequence[T], number: int) -> list[T]:
    """The items in the order of round `number`: each round starts one later, so that a slow
    moment of this shared machine meets each of them alike over the rounds."""
    turn = number % len(items)
    return [*items[turn:], *items[:turn]]


def require(program: str, package: str) -> None:
    """Stop with one line naming what to install when `program` is not on the PATH."""
    if shutil.which(program) is None:
        sys.exit(f"this bench needs {program}: apt-get install {package} (Debian, Ubuntu)")


@dataclass(frozen=True)
class Load:
    """One wrk run against a server: what it served, how fast, and the CPU time it cost."""

    requests: int
    requests_per_second: float
    #: Latency percentiles in milliseconds (nan where wrk reports none).
    p50_ms: float
    p90_ms: float
    p99_ms: float
    #: Connection errors, timeouts and replies other than 2xx or 3xx.
    errors: int
    #: The server's processes' CPU time over the requests served.
    cpu_us_per_request: float


WRK_SCRIPT = Path(__file__).with_name("post.lua")


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    server: Server,
    body: bytes,
    seconds: float,
    connections: int = 8,
    headers: Mapping[str, str] | None = None,
    path: str = "/predict",
) -> Load:
    """wrk (2 threads, or 1 for 1 connection; `connections` kept alive) posting `body` as JSON
    to `path` for `seconds`, with the CPU time the server's processes spent meanwhile."""
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency"]
    command += ["--timeout", "5s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(WRK_SCRIPT), server.base + path]
    pids = server.pids()
    cpu_before = cpu_seconds(pids)
    out = subprocess.run(
        command,
        env={**os.environ, "BODY": body.decode()},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    cpu = cpu_seconds(pids) - cpu_before
    latency = {p: _milliseconds(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M)}
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    requests = int(re.search(r"(\d+) requests in", out)[1])
    return Load(
        requests=requests,
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        p50_ms=latency.get("50", math.nan),
        p90_ms=latency.get("90", math.nan),
        p99_ms=latency.get("99", math.nan),
        errors=errors,
        cpu_us_per_request=cpu / max(requests, 1) * 1e6,
    )


# --- raw sockets --------------------------------------------------------------------------------


def _head_and_rest(data: bytes) -> tuple[bytes, bytes]:
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


def read_reply(client: socket.socket, buffer: bytearray | None = None) -> tuple[int, bytes]:
    """(status, body) of the next reply on a connection: as long as its Content-Length says
    (what follows stays in `buffer`, for the next reply on a kept-alive connection), or, without
    one, up to the connection's end. A reset after the reply has begun ends it as well (a server
    that closed with the request's body unread)."""
    data = buffer if buffer is not None else bytearray()
    wanted: int | None = None
    try:
        while True:
            if b"\r\n\r\n" in data:
                head, rest = _head_and_rest(bytes(data))
                length = content_length(head)
                if length is not None and len(rest) >= length:
                    wanted = len(head) + 4 + length
                    break
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        if not data:
            raise
    if not data:
        raise ConnectionError("closed before a reply")
    reply = bytes(data[:wanted]) if wanted is not None else bytes(data)
    del data[: len(reply)]
    head, body = _head_and_rest(reply)
    return int(head.split(b" ", 2)[1]), body


# --- processes ----------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ProcessLookupError(pid)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User and system CPU time of these processes so far (fields 14 and 15 of /proc/PID/stat):
    not wall time, so no scheduling in it."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


# --- in-process ---------------------------------------------------------------------------------


def wsgi_request(
    path: str = "/predict",
    json_body: object | None = None,
    headers: Mapping[str, str] | None = None,
    query_string: str | None = None,
    method: str | None = None,
) -> Callable[[], dict[str, Any]]:
    """A maker of WSGI environs for one request, built once by werkzeug's EnvironBuilder (a POST
    when there is a body): each call gives a fresh environ whose body can be read again."""
    builder = EnvironBuilder(
        path=path,
        method=method or ("GET" if json_body is None else "POST"),
        json=json_body,
        headers=dict(headers or {}),
        query_string=query_string,
        base_url=f"http://{LOOPBACK}:8080",
        environ_base={"REMOTE_ADDR": LOOPBACK, "wsgi.multiprocess": True},
    )
    template = builder.get_environ()
    body = template["wsgi.input"].read()
    return lambda: {**template, "wsgi.input": io.BytesIO(body)}


def serve_one(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[str, bytes]:
    """(status, body) of a WSGI app's reply to `environ`, as a server would take it."""
    statuses: list[str] = []
    result = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return statuses[-1], body


def quiet_logs() -> None:
    """The service's log lines (the access line included) written, but to /dev/null."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    for handler in logging.getLogger("soulsync").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


# --- in-process calls -----------------------------------------------------------------------


def callgrind_parts(folder: Path, pid: int) -> list[int]:
    """The instructions of each part callgrind dumped for process `pid`, in order."""
    parts = {}
    for path in folder.glob(f"cg.{pid}*"):
        text = path.read_text(errors="replace")
        number = next(line for line in text.splitlines() if line.startswith("part:"))
        total = next(line for line in text.splitlines() if line.startswith(("summary:", "totals:")))
        parts[int(number.split()[1])] = int(total.split()[1])
    return [parts[number] for number in sorted(parts)]


def run_in_process(cases: list[str], rounds: int, calls: int, callgrind: bool) -> dict:
    """bench/in_process.py's cases: CPU microseconds per call, or instructions per call (under
    callgrind), one figure a segment."""
    with tempfile.TemporaryDirectory(prefix="soulsync-in-process-") as name:
        folder = Path(name)
        command = [sys.executable, "-m", "bench.in_process", "--rounds", str(rounds)]
        command += ["--calls", str(calls), "--out", str(folder / "figures.json")]
        if callgrind:
            command = ["valgrind", "--tool=callgrind", "--dump-before=getppid",
                       f"--callgrind-out-file={folder}/cg.%p", *command, "--marks"]  # fmt: skip
        process = subprocess.run(
            [*command, *cases],
            cwd=ROOT,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if process.returncode != 0:
            raise RuntimeError(f"bench.in_process failed: {process.stderr[-2000:]}")
        run = json.loads((folder / "figures.json").read_text())
        names = [segment for segment, _ in run["segments"]]
        if callgrind:
            (pid,) = {path.name.split(".")[1] for path in folder.glob("cg.*")}
            # part 1 is start-up and warm-up; one part per segment; then the exit
            values = callgrind_parts(folder, int(pid))[1 : 1 + len(names)]
        else:
            values = [seconds * 1e6 for _, seconds in run["segments"]]
    figures: dict[str, list[float]] = {}
    for segment, value in zip(names, values, strict=True):
        figures.setdefault(segment, []).append(value / run["calls"])
    return figures

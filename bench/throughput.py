"""The benchmark behind `make bench`.

Under gunicorn with this repository's gunicorn.conf.py (the gevent worker, one worker per CPU
of this machine), loaded by wrk on loopback: the service with its default (LiteRT) backend and
a floor (a bare Flask app that parses the same JSON and returns a constant), side by side in
alternating rounds; then the same service with the Keras backend, and the old service's way of
serving (Keras model.predict per request). For each: requests per second, p50/p90/p99 latency,
the CPU time of the server's processes per request (steadier than req/s on a shared machine),
errors, cold start (process start to the first 200 from /readyz) and resident memory per
worker. For the service also the median time of a full batch (the default batch limit) and,
in-process (the WSGI app called directly, no HTTP): its cost per request against the floor's,
and the share of it the live drift counts take.

`--compare DIR` runs another checkout's service (a `git worktree` of an older commit, say) in
the same rounds as this one's and the floor, so that before and after meet the same machine.
`--matrix` adds the worker models side by side (gevent and gthread, 1 and 2 workers) on 1 CPU
and on 2 CPUs (the server pinned with taskset, wrk on another core), service and floor.

Prints a table with the goals and writes the raw figures, every round included, as JSON.
Bounded: every run has a fixed duration and every wait a timeout.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import logging
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from soulsync.config import DEFAULTS  # noqa: E402
from soulsync.inference.model_folder import KERAS_FILE, SHIPPED_MODEL_DIR  # noqa: E402
from soulsync.questionnaire import CONTRACT_EXAMPLE  # noqa: E402

GUNICORN = Path(sys.executable).parent / "gunicorn"
BODY = json.dumps(CONTRACT_EXAMPLE)
BATCH_BODY = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * DEFAULTS["BATCH_LIMIT"]}).encode()
CPUS = os.cpu_count() or 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: The same gunicorn settings for every case: the production config file, a worker per CPU.
GUNICORN_ENV = {"WEB_CONCURRENCY": str(CPUS)}
CASES = {
    "service (LiteRT)": {"app": "wsgi:app", "env": {}},
    "floor (bare Flask)": {"app": "floor_app:app", "env": {}, "chdir": "bench"},
    "service (Keras)": {
        "app": "wsgi:app",
        "env": {"SOULSYNC_MODEL_PATH": str(SHIPPED_MODEL_DIR / KERAS_FILE)},
    },
    "Keras model.predict": {"app": "keras_predict_app:app", "env": {}, "chdir": "bench"},
}
#: Groups measured together, in turn, round after round (the order rotating), so that a slow
#: moment of this shared machine hits every case of the group alike. The Keras cases run after
#: the light ones, alone: TensorFlow's thread pools keep the cores busy for a while after a
#: burst and would slow whatever ran next.
GROUPS = (
    ("service (LiteRT)", "floor (bare Flask)"),
    ("service (Keras)",),
    ("Keras model.predict",),
)
#: The service of another checkout, with --compare.
COMPARED = "service (compared)"
#: Worker models for --matrix: command-line settings over gunicorn.conf.py's.
WORKER_MODELS = {
    "gevent 1 worker (default)": ["-w", "1"],
    "gevent 2 workers": ["-w", "2"],
    "gthread 1 x 8 threads": ["-k", "gthread", "-w", "1", "--threads", "8"],
    "gthread 2 x 4 threads": ["-k", "gthread", "-w", "2", "--threads", "4"],
}
ROUNDS = 5
WARM_UP_SECONDS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


class Server:
    """One case's gunicorn, started alone so that its cold start is its own."""

    def __init__(
        self,
        name: str,
        case: dict[str, Any],
        log_dir: Path,
        extra: list[str] | None = None,
        cpus: str | None = None,
    ) -> None:
        self.name, self.case, self.port = name, case, free_port()
        root = case.get("root", ROOT)  # another checkout, for --compare
        command = [str(GUNICORN), "--config", str(root / "gunicorn.conf.py"), *(extra or [])]
        if "chdir" in case or "root" in case:
            command += ["--chdir", str(root / case.get("chdir", "."))]
        if cpus:
            command = ["taskset", "-c", cpus, *command]
        self.log = (log_dir / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log").open("w")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [*command, case["app"]],
            cwd=root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **GUNICORN_ENV, **case["env"], "PORT": str(self.port)},
        )
        deadline = started + 60
        while not ready(f"http://127.0.0.1:{self.port}/readyz"):
            if time.perf_counter() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{name} did not become ready; see {self.log.name}")
            time.sleep(0.005)
        self.cold_start = time.perf_counter() - started
        self.url = f"http://127.0.0.1:{self.port}/predict"
        print(f"  {name}: ready in {self.cold_start:.2f} s", flush=True)

    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def wrk(self, seconds: int, wrk_cpus: str | None = None) -> dict[str, Any]:
        """One wrk run (2 threads, 8 connections) posting the contract example, with the CPU
        time the server's processes spent on it."""
        command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "--timeout", "5s"]
        command += ["-s", str(ROOT / "bench" / "post.lua"), self.url]
        if wrk_cpus:
            command = ["taskset", "-c", wrk_cpus, *command]
        pids = self.pids()
        cpu_before = cpu_seconds(pids)
        result = subprocess.run(
            command,
            env={**os.environ, "BODY": BODY},
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        )
        cpu = cpu_seconds(pids) - cpu_before
        out = result.stdout
        latency = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M)}
        errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
        errors += int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
        requests = int(re.search(r"(\d+) requests in", out)[1])
        return {
            "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "requests": requests,
            # wrk prints no latency when no request completed (the old way, under load)
            "p50_ms": latency.get("50", float("nan")),
            "p90_ms": latency.get("90", float("nan")),
            "p99_ms": latency.get("99", float("nan")),
            "cpu_us_per_request": cpu / max(requests, 1) * 1e6,
            "errors": errors,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def batch_median_ms(port: int, calls: int = 30) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    try:
        for i in range(calls + 3):
            started = time.perf_counter()
            connection.request(
                "POST",
                "/predict/batch",
                body=BATCH_BODY,
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"batch answered {response.status}")
            if i >= 3:  # the first calls warm the allocator up
                times.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return statistics.median(times)


MEDIAN_FIGURES = ("requests_per_second", "p50_ms", "p90_ms", "p99_ms", "cpu_us_per_request")


def summarize(server: Server, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the rounds for each figure; errors summed; memory after the last round."""
    figures: dict[str, Any] = {
        key: statistics.median(r[key] for r in rounds) for key in MEDIAN_FIGURES
    }
    figures["errors"] = sum(r["errors"] for r in rounds)
    figures["requests"] = sum(r["requests"] for r in rounds)
    figures["rounds"] = rounds
    figures["cold_start_s"] = server.cold_start
    figures["rss_per_worker_mb"] = [round(rss_mb(pid), 1) for pid in children(server.process.pid)]
    if server.case["app"] == "wsgi:app" and "root" not in server.case:
        figures["full_batch_median_ms"] = batch_median_ms(server.port)
    return figures


def run_group(
    names: list[str],
    cases: dict[str, dict[str, Any]],
    logs: Path,
    seconds: int,
    rounds: int,
    extra: list[str] | None = None,
    cpus: str | None = None,
    wrk_cpus: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Start the group's servers, warm them up, run the rounds in rotating order."""
    servers: list[Server] = []
    try:
        for name in names:
            servers.append(Server(name, cases[name], logs, extra, cpus))
        for server in servers:
            server.wrk(WARM_UP_SECONDS, wrk_cpus)
        results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
        for number in range(rounds):
            turn = number % len(servers)
            for server in servers[turn:] + servers[:turn]:
                results[server.name].append(server.wrk(seconds, wrk_cpus))
            print(f"  {' + '.join(names)}: round {number + 1}/{rounds}", flush=True)
        return {server.name: summarize(server, results[server.name]) for server in servers}
    finally:
        for server in servers:
            server.stop()


# --- in-process ------------------------------------------------------------------------------


def _environ(body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/predict",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8080",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _per_request_us(app: Any, calls: int) -> float:
    body = BODY.encode()
    statuses: list[str] = []
    started = time.perf_counter()
    for _ in range(calls):
        result = app(_environ(body), lambda status, headers, exc=None: statuses.append(status))
        b"".join(result)
        getattr(result, "close", lambda: None)()
    elapsed = time.perf_counter() - started
    if any(not status.startswith("200") for status in statuses):
        raise RuntimeError(f"in-process calls answered {set(statuses)}")
    return elapsed / calls * 1e6


def in_process(rounds: int = 9, calls: int = 2000) -> dict[str, float]:
    """Microseconds per POST /predict called as a WSGI app, service and floor in alternating
    rounds (the service in gunicorn's metrics mode, its access line written to /dev/null), and
    the same service without its live drift counts."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="soulsync-bench-metrics-")
    import floor_app

    from soulsync.api.state import EXTENSION
    from soulsync.app import create_app

    service = create_app()
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    for handler in logging.getLogger("soulsync").handlers:
        handler.setStream(devnull)
    state = service.extensions[EXTENSION]
    counting = state.live.add

    def without_counts(environ: dict, start_response: Any) -> Any:
        state.live.add = lambda *args: None
        try:
            return service(environ, start_response)
        finally:
            state.live.add = counting

    apps = {"service": service, "floor": floor_app.app, "service without counts": without_counts}
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():
        _per_request_us(app, 300)  # warm-up
    for number in range(rounds):
        names = list(apps)
        turn = number % len(names)
        for name in names[turn:] + names[:turn]:
            samples[name].append(_per_request_us(apps[name], calls))
    figures = {f"{name} us": statistics.median(values) for name, values in samples.items()}
    paired = [s / f for s, f in zip(samples["service"], samples["floor"], strict=True)]
    counts = [
        (s - w) / s
        for s, w in zip(samples["service"], samples["service without counts"], strict=True)
    ]
    figures["ratio to floor"] = statistics.median(paired)
    figures["live counts share"] = statistics.median(counts)
    return figures


def predictor_call_us(path: Path, calls: int) -> dict[str, float]:
    """One screening (10 model rows: the answers and their 9 attributions) and one bare model
    call (1 row), in-process, median microseconds."""
    import numpy as np

    from soulsync.inference.screening import Screener

    screener = Screener.load(path)
    rows = np.array([[float(CONTRACT_EXAMPLE[k]) for k in CONTRACT_EXAMPLE]], dtype=np.float32)

    def median_us(function: Any) -> float:
        for _ in range(20):
            function()
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            function()
            samples.append((time.perf_counter() - started) * 1e6)
        return statistics.median(samples)

    return {
        "screening_us": median_us(lambda: screener.screen([CONTRACT_EXAMPLE])),
        "model_call_us": median_us(lambda: screener.predictor.backend.predict(rows)),
    }


# --- reporting --------------------------------------------------------------------------------


def goals(results: dict[str, Any]) -> dict[str, tuple[float, str, float]]:
    lite, floor = results["cases"]["service (LiteRT)"], results["cases"]["floor (bare Flask)"]
    paired = [
        a["requests_per_second"] / b["requests_per_second"]
        for a, b in zip(lite["rounds"], floor["rounds"], strict=True)
    ]
    cpu = [
        a["cpu_us_per_request"] / b["cpu_us_per_request"]
        for a, b in zip(lite["rounds"], floor["rounds"], strict=True)
    ]
    inproc = results["in_process"]
    found = {
        "throughput vs floor": (statistics.median(paired), ">=", 0.52),
        "CPU per request vs floor": (statistics.median(cpu), "<=", 2.0),
        "in-process cost vs floor": (inproc["ratio to floor"], "<=", 4.1),
        "p99 vs floor's x 2": (lite["p99_ms"] / (2 * floor["p99_ms"]), "<=", 1.0),
        "live counts share": (inproc["live counts share"], "<=", 0.05),
        "cold start s": (lite["cold_start_s"], "<", 1.5),
        "RSS per worker MB": (max(lite["rss_per_worker_mb"]), "<", 100.0),
        f"full batch ({DEFAULTS['BATCH_LIMIT']}) ms": (lite["full_batch_median_ms"], "<", 50.0),
    }
    compared = results["cases"].get(COMPARED)
    if compared is not None:  # the same ratios of the other checkout, from the same rounds
        found["compared: throughput vs floor"] = (
            statistics.median(
                a["requests_per_second"] / b["requests_per_second"]
                for a, b in zip(compared["rounds"], floor["rounds"], strict=True)
            ),
            "info",
            0,
        )
        found["compared: CPU per request vs floor"] = (
            statistics.median(
                a["cpu_us_per_request"] / b["cpu_us_per_request"]
                for a, b in zip(compared["rounds"], floor["rounds"], strict=True)
            ),
            "info",
            0,
        )
    return found


def table(cases: dict[str, Any]) -> list[str]:
    lines = [
        f"{'':28s}{'req/s':>8s}{'(rounds min-max)':>18s}{'p50 ms':>8s}{'p99 ms':>8s}"
        f"{'CPU us/req':>11s}{'errors':>7s}{'cold s':>7s}{'RSS/worker MB':>14s}"
        f"{'batch ms':>12s}",
    ]
    for name, c in cases.items():
        batch = f"{c['full_batch_median_ms']:.1f}" if "full_batch_median_ms" in c else "-"
        rss = "/".join(f"{r:.0f}" for r in c["rss_per_worker_mb"])
        each = [r["requests_per_second"] for r in c["rounds"]]
        spread = f"({min(each):.0f}-{max(each):.0f})"
        lines.append(
            f"{name:28s}{c['requests_per_second']:8.0f}{spread:>18s}{c['p50_ms']:8.2f}"
            f"{c['p99_ms']:8.2f}{c['cpu_us_per_request']:11.0f}{c['errors']:7d}"
            f"{c['cold_start_s']:7.2f}{rss:>14s}{batch:>12s}"
        )
    return lines


def report(results: dict[str, Any]) -> str:
    lines = ["", f"wrk on loopback, gunicorn.conf.py with WEB_CONCURRENCY={CPUS}:"]
    lines += table(results["cases"])
    lines.append("")
    for backend, p in results["predictor"].items():
        lines.append(
            f"screening alone, {backend:7s}: {p['screening_us']:8.1f} us (10 model rows); "
            f"model call {p['model_call_us']:8.1f} us (1 row)"
        )
    inproc = results["in_process"]
    lines.append(
        f"in-process POST /predict: service {inproc['service us']:.0f} us, floor "
        f"{inproc['floor us']:.0f} us, service without live counts "
        f"{inproc['service without counts us']:.0f} us"
    )
    for title, matrix in results.get("matrix", {}).items():
        lines += ["", title]
        lines += table(matrix)
    lines.append("")
    for goal, (value, op, target) in results["goals"].items():
        if op == "info":
            lines.append(f"{goal:36s}{value:9.3f}")
            continue
        met = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
        lines.append(
            f"{goal:36s}{value:9.3f}  goal {op} {target:<6g} {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration of each round")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--matrix", action="store_true", help="also compare worker models")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument(
        "--light", action="store_true", help="the service and the floor only (no Keras cases)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        help="another checkout (a git worktree of an older commit, say) whose service runs in "
        "the same rounds as this one's and the floor",
    )
    args = parser.parse_args()
    groups = [list(group) for group in GROUPS[: 1 if args.light else None]]
    if args.compare:
        CASES[COMPARED] = {"app": "wsgi:app", "env": {}, "root": args.compare.resolve()}
        groups[0].append(COMPARED)

    results: dict[str, Any] = {
        "machine": {
            "cpus": CPUS,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "gunicorn": GUNICORN_ENV,
            "wrk": "-t2 -c8 --latency",
            "seconds_per_round": args.seconds,
            "rounds": args.rounds,
            "warm_up_seconds": WARM_UP_SECONDS,
        },
        "cases": {},
    }
    print(f"benchmark: {len(CASES)} cases, {args.rounds} rounds of {args.seconds} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="soulsync-bench-") as logs:
        for group in groups:
            results["cases"] |= run_group(group, CASES, Path(logs), args.seconds, args.rounds)
        if args.matrix:
            pair = ["service (LiteRT)", "floor (bare Flask)"]
            layouts = {"1 CPU (server on CPU 0, wrk on CPU 1)": ("0", "1"), "2 CPUs": (None, None)}
            results["matrix"] = {}
            for title, (cpus, wrk_cpus) in layouts.items():
                matrix: dict[str, Any] = {}
                for model, extra in WORKER_MODELS.items():
                    named = {f"{model}: {n.split(' ')[0]}": CASES[n] for n in pair}
                    matrix |= run_group(
                        list(named), named, Path(logs), args.seconds, 3, extra, cpus, wrk_cpus
                    )
                results["matrix"][title] = matrix
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results["in_process"] = in_process()
    results["predictor"] = {"LiteRT": predictor_call_us(SHIPPED_MODEL_DIR / "model.tflite", 2000)}
    if not args.light:
        results["predictor"]["Keras"] = predictor_call_us(SHIPPED_MODEL_DIR / KERAS_FILE, 200)
        lite = results["cases"]["service (LiteRT)"]
        results["ratios"] = {
            name: lite["requests_per_second"] / results["cases"][name]["requests_per_second"]
            for name in ("service (Keras)", "Keras model.predict")
        }
    results["goals"] = goals(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"\nraw figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

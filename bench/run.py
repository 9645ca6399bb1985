"""The benchmark behind `make bench`: the service with its default (LiteRT) backend, the same
service with the Keras backend, and a floor (a bare Flask app that parses the same JSON and
returns a constant), each under the same gunicorn settings, loaded by wrk on loopback.

For each: requests per second, p50/p90/p99 latency, errors, cold start (process start to the
first 200 from /readyz) and resident memory per worker after the run. For both backends also
the median time of POST /predict/batch with 1,000 questionnaires and of one predictor call
alone. Prints a table with the ratios and writes the raw figures as JSON. Bounded: every run
has a fixed duration and every wait a timeout.
"""

from __future__ import annotations

import argparse
import http.client
import json
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

from soulsync.inference.card import KERAS_FILE, SHIPPED_MODEL_DIR, TFLITE_FILE  # noqa: E402
from soulsync.questionnaire import CONTRACT_EXAMPLE  # noqa: E402

GUNICORN = Path(sys.executable).parent / "gunicorn"
BODY = json.dumps(CONTRACT_EXAMPLE)
BATCH_BODY = json.dumps({"questionnaires": [CONTRACT_EXAMPLE] * 1000}).encode()
#: The same gunicorn settings for every case: the production config file, 2 workers x 4 threads.
GUNICORN_ENV = {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}
CASES = {
    "service (LiteRT)": {"app": "wsgi:app", "env": {}},
    "service (Keras)": {
        "app": "wsgi:app",
        "env": {"SOULSYNC_MODEL_PATH": str(SHIPPED_MODEL_DIR / KERAS_FILE)},
    },
    "floor (bare Flask)": {"app": "floor_app:app", "env": {}, "chdir": "bench"},
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
ROUNDS = 5
WARM_UP_SECONDS = 3
GOALS = {
    "throughput vs floor": 0.6,
    "throughput vs Keras": 50.0,
    "p99 ms": 10.0,
    "cold start s": 1.5,
    "RSS per worker MB": 100.0,
    "batch of 1,000 ms": 50.0,
}


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


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: int) -> dict[str, Any]:
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c8",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(ROOT / "bench" / "post.lua"),
            url,
        ],
        env={**os.environ, "BODY": BODY},
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    out = result.stdout
    latency = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M)}
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "requests": int(re.search(r"(\d+) requests in", out)[1]),
        "p50_ms": latency["50"],
        "p90_ms": latency["90"],
        "p99_ms": latency["99"],
        "errors": errors,
    }


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


class Server:
    """One case's gunicorn, started alone so that its cold start is its own."""

    def __init__(self, name: str, case: dict[str, Any], log_dir: Path) -> None:
        self.name, self.case, self.port = name, case, free_port()
        command = [str(GUNICORN), "--config", str(ROOT / "gunicorn.conf.py")]
        if "chdir" in case:
            command += ["--chdir", str(ROOT / case["chdir"])]
        self.log = (log_dir / f"{re.sub(r'[^a-z]+', '-', name.lower())}.log").open("w")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [*command, case["app"]],
            cwd=ROOT,
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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def summarize(server: Server, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the rounds for each figure; errors summed; memory after the last round."""
    figures: dict[str, Any] = {
        key: statistics.median(r[key] for r in rounds)
        for key in ("requests_per_second", "p50_ms", "p90_ms", "p99_ms")
    }
    figures["errors"] = sum(r["errors"] for r in rounds)
    figures["requests"] = sum(r["requests"] for r in rounds)
    figures["rounds"] = rounds
    figures["cold_start_s"] = server.cold_start
    figures["rss_per_worker_mb"] = [round(rss_mb(pid), 1) for pid in children(server.process.pid)]
    if server.case["app"] == "wsgi:app":
        figures["batch_1000_median_ms"] = batch_median_ms(server.port)
    return figures


def predictor_call_us(path: Path, calls: int) -> dict[str, float]:
    """One predictor call (11 model rows: the answers and their 10 attributions) and one bare
    model call (1 row), in-process, median microseconds."""
    from soulsync.inference.predictor import Predictor

    predictor = Predictor.load(path)
    row = [[float(CONTRACT_EXAMPLE[k]) for k in CONTRACT_EXAMPLE]]

    def median_us(function) -> float:
        for _ in range(20):
            function()
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            function()
            samples.append((time.perf_counter() - started) * 1e6)
        return statistics.median(samples)

    import numpy as np

    rows = np.array(row, dtype=np.float32)
    return {
        "predictor_call_us": median_us(lambda: predictor.predict([CONTRACT_EXAMPLE])),
        "model_call_us": median_us(lambda: predictor.backend.predict(rows)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration of each round")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "gunicorn": GUNICORN_ENV,
            "wrk": "-t2 -c8 --latency",
            "seconds_per_round": args.seconds,
            "rounds": ROUNDS,
            "warm_up_seconds": WARM_UP_SECONDS,
        },
        "cases": {},
    }
    print(f"benchmark: {len(CASES)} cases, {ROUNDS} rounds of {args.seconds} s each", flush=True)
    with tempfile.TemporaryDirectory(prefix="soulsync-bench-") as logs:
        for group in GROUPS:
            servers: list[Server] = []
            try:
                for name in group:
                    servers.append(Server(name, CASES[name], Path(logs)))
                for server in servers:
                    run_wrk(server.url, WARM_UP_SECONDS)  # warm-up, not recorded
                rounds: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
                for number in range(ROUNDS):
                    for server in (
                        servers[number % len(servers) :] + servers[: number % len(servers)]
                    ):
                        rounds[server.name].append(run_wrk(server.url, args.seconds))
                    print(f"  {' + '.join(group)}: round {number + 1}/{ROUNDS}", flush=True)
                for server in servers:
                    results["cases"][server.name] = summarize(server, rounds[server.name])
            finally:
                for server in servers:
                    server.stop()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results["predictor"] = {
        "LiteRT": predictor_call_us(SHIPPED_MODEL_DIR / TFLITE_FILE, 2000),
        "Keras": predictor_call_us(SHIPPED_MODEL_DIR / KERAS_FILE, 200),
    }

    lite, keras_, floor, predict_each = (results["cases"][n] for n in CASES)
    # Service and floor ran in the same rounds: the ratio round by round, then the median.
    paired = [
        a["requests_per_second"] / b["requests_per_second"]
        for a, b in zip(lite["rounds"], floor["rounds"], strict=True)
    ]
    results["ratios"] = {
        "throughput vs floor": statistics.median(paired),
        "throughput vs Keras": lite["requests_per_second"] / keras_["requests_per_second"],
        "throughput vs Keras model.predict": (
            lite["requests_per_second"] / predict_each["requests_per_second"]
        ),
    }
    results["goals"] = {
        "throughput vs floor": (results["ratios"]["throughput vs floor"], ">=", 0.6),
        "throughput vs Keras": (results["ratios"]["throughput vs Keras"], ">=", 50.0),
        "p99 ms": (lite["p99_ms"], "<", 10.0),
        "cold start s": (lite["cold_start_s"], "<", 1.5),
        "RSS per worker MB": (max(lite["rss_per_worker_mb"]), "<", 100.0),
        "batch of 1,000 ms": (lite["batch_1000_median_ms"], "<", 50.0),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nraw figures: {args.out}")
    return 0


def table(results: dict[str, Any]) -> str:
    lines = [
        "",
        f"{'':20s}{'req/s':>9s}{'(rounds min-max)':>18s}{'p50 ms':>9s}{'p90 ms':>9s}"
        f"{'p99 ms':>9s}{'errors':>8s}"
        f"{'cold s':>8s}{'RSS/worker MB':>16s}{'batch 1k ms':>13s}",
    ]
    for name, c in results["cases"].items():
        batch = f"{c['batch_1000_median_ms']:.1f}" if "batch_1000_median_ms" in c else "-"
        rss = "/".join(f"{r:.0f}" for r in c["rss_per_worker_mb"])
        each = [r["requests_per_second"] for r in c["rounds"]]
        spread = f"({min(each):.0f}-{max(each):.0f})"
        lines.append(
            f"{name:20s}{c['requests_per_second']:9.0f}{spread:>18s}{c['p50_ms']:9.2f}"
            f"{c['p90_ms']:9.2f}{c['p99_ms']:9.2f}{c['errors']:8d}"
            f"{c['cold_start_s']:8.2f}{rss:>16s}{batch:>13s}"
        )
    lines.append("")
    for backend, p in results["predictor"].items():
        lines.append(
            f"predictor call alone, {backend:7s}: {p['predictor_call_us']:9.1f} us "
            f"(11 rows with attribution); model call {p['model_call_us']:9.1f} us (1 row)"
        )
    lines.append("")
    for goal, (value, op, target) in results["goals"].items():
        met = value >= target if op == ">=" else value < target
        lines.append(
            f"{goal:22s}{value:9.2f}  goal {op} {target:<6g} {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

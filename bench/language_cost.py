"""What negotiating the reply's language costs a request: this checkout against another commit
(`--before`; by default where this branch left main), side by side in one run.

Each checkout's app runs in a worker process of its own (the two cannot share an interpreter),
built as gunicorn builds it (create_app, metrics in multiprocess mode, the access line written
to /dev/null). The parent asks the workers for rounds in turn, alternating their order, so that
both meet the same machine; a round is `--calls` POST /predict called on the WSGI app directly
(no HTTP), timed in CPU time (time.process_time). For each case: the minimum and the median over
the rounds of the CPU microseconds per request, and the difference against the same request to
the other commit. Cases: the contract example (no support block) and a questionnaire with
suicidal thoughts (the support block), each without Accept-Language (the old backend's call) and
with `Accept-Language: id-ID,id;q=0.9` (the older commit ignores it) or `?lang=id`.

`--callgrind` counts instructions instead (valgrind, deterministic on a noisy machine): each
case but ?lang= is run under `valgrind --tool=callgrind` with 50 and with 1,050 calls, and the
difference divided by 1,000 is the instructions per request (about fifteen minutes on 2 CPUs;
with 200 calls between the runs, the counts of two identical runs differed by 1 to 2 %).

    .venv/bin/python bench/language_cost.py [--before REF] [--rounds 15] [--calls 400]
    .venv/bin/python bench/language_cost.py --callgrind
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from soulsync.questionnaire import CONTRACT_EXAMPLE as CONTRACT

ROOT = Path(__file__).resolve().parents[1]

BODIES = {"contract": CONTRACT, "support": {**CONTRACT, "SuicidalTh": 1}}
ASKING = {
    "no language": ({}, ""),
    "Accept-Language: id": ({"HTTP_ACCEPT_LANGUAGE": "id-ID,id;q=0.9"}, ""),
    "?lang=id": ({}, "lang=id"),
}
CASES = [f"{body}, {asking}" for body in BODIES for asking in ASKING]
#: Under valgrind (half a minute a run), the cases without ?lang= (which differs from the
#: header only in where the parser looks).
CALLGRIND_CASES = [case for case in CASES if "?lang" not in case]


# --- the worker: one checkout's app, timed on request -------------------------------------------


def _environ(case: str) -> dict[str, Any]:
    body_name, asking = case.split(", ", 1)
    headers, query = ASKING[asking]
    body = json.dumps(BODIES[body_name]).encode()
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/predict",
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8080",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }


def _calls(app: Any, case: str, calls: int) -> tuple[float, bytes]:
    """CPU seconds of `calls` requests of `case`, and the last reply's body."""
    template = _environ(case)
    statuses: list[str] = []
    reply = b""
    started = time.process_time()
    for _ in range(calls):
        environ = {**template, "wsgi.input": io.BytesIO(template["wsgi.input"])}
        result = app(environ, lambda status, headers, exc=None: statuses.append(status))
        reply = b"".join(result)
        getattr(result, "close", lambda: None)()
    elapsed = time.process_time() - started
    if any(not status.startswith("200") for status in statuses):
        raise RuntimeError(f"{case}: answered {set(statuses)}")
    return elapsed, reply


def _service(tree: Path) -> Any:
    """The app of the checkout at `tree`, as gunicorn builds it."""
    sys.path.insert(0, str(tree))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="soulsync-bench-metrics-")
    import soulsync
    from soulsync.app import create_app

    assert Path(soulsync.__file__).resolve().is_relative_to(tree.resolve()), soulsync.__file__
    app = create_app()
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    for handler in logging.getLogger("soulsync").handlers:
        handler.setStream(devnull)
    return app


def worker(tree: Path) -> None:
    """Answer `CASE|CALLS` lines on stdin with the CPU seconds (and the reply) on stdout."""
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the app prints stays out of the answers
    app = _service(tree)
    for line in sys.stdin:
        case, calls = line.rstrip("\n").split("|")
        seconds, reply = _calls(app, case, int(calls))
        out.write(json.dumps({"seconds": seconds, "reply": reply.decode()}) + "\n")
        out.flush()


def callgrind_worker(tree: Path, case: str, calls: int) -> None:
    app = _service(tree)
    _calls(app, case, 20)  # warm caches (the first requests build schemas and load the model)
    _calls(app, case, calls)


# --- the parent ------------------------------------------------------------------------------


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def checkout(ref: str, into: Path) -> Path:
    """The files of commit `ref` (git archive), in `into`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


class Worker:
    def __init__(self, tree: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(tree)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "SOULSYNC_LOG_LEVEL": "WARNING"},
        )

    def run(self, case: str, calls: int) -> tuple[float, str]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{case}|{calls}\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["seconds"] / calls * 1e6, answer["reply"]

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def process_time_comparison(before: Path, rounds: int, calls: int) -> dict[str, Any]:
    workers = {"before": Worker(before), "after": Worker(ROOT)}
    samples: dict[tuple[str, str], list[float]] = {}
    replies: dict[tuple[str, str], str] = {}
    try:
        for name, worker_ in workers.items():
            for case in CASES:
                _, replies[name, case] = worker_.run(case, 100)  # warm-up
        for number in range(rounds):
            order = list(workers) if number % 2 == 0 else list(reversed(workers))
            for case in CASES:
                for name in order:
                    us, _ = workers[name].run(case, calls)
                    samples.setdefault((name, case), []).append(us)
            print(f"  round {number + 1}/{rounds}", file=sys.stderr, flush=True)
    finally:
        for worker_ in workers.values():
            worker_.stop()
    same = {
        case: replies["before", case] == replies["after", case]
        for case in CASES
        if "no language" in case
    }
    table = {}
    for case in CASES:
        before_us, after_us = samples["before", case], samples["after", case]
        paired = [a - b for a, b in zip(after_us, before_us, strict=True)]
        table[case] = {
            "before min": min(before_us),
            "before median": statistics.median(before_us),
            "after min": min(after_us),
            "after median": statistics.median(after_us),
            "difference of mins": min(after_us) - min(before_us),
            "median of paired differences": statistics.median(paired),
        }
    return {"cases": table, "same reply without a language": same}


def instructions(tree: Path, case: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--callgrind-worker",
                str(tree),
                case,
                str(calls),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "SOULSYNC_LOG_LEVEL": "WARNING", "PYTHONHASHSEED": "0"},
        )
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        assert summary, "no summary in callgrind's output"
        return int(summary[1])


def callgrind_comparison(before: Path) -> dict[str, Any]:
    """Instructions per request of each case, before and after (two valgrind runs at a time:
    each takes about half a minute, and the counts do not depend on what runs beside them)."""
    runs = [
        (case, name, tree, calls)
        for case in CALLGRIND_CASES
        for name, tree in (("before", before), ("after", ROOT))
        for calls in (50, 1050)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda run: instructions(run[2], run[0], run[3]), runs))
    found = {(*run[:2], run[3]): count for run, count in zip(runs, counts, strict=True)}
    table = {}
    for case in CALLGRIND_CASES:
        row = {
            name: (found[case, name, 1050] - found[case, name, 50]) / 1000
            for name in ("before", "after")
        }
        table[case] = row | {"difference": row["after"] - row["before"]}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--before", help="the commit to compare with (default: git merge-base HEAD main)"
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--callgrind-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.callgrind_worker:
        tree, case, calls = args.callgrind_worker
        callgrind_worker(Path(tree), case, int(calls))
        return
    ref = args.before or git("merge-base", "HEAD", "main")
    commit = git("rev-parse", "--short", ref)
    with tempfile.TemporaryDirectory(prefix="soulsync-before-") as folder:
        before = checkout(ref, Path(folder))
        if args.callgrind:
            table = callgrind_comparison(before)
            print(f"\ninstructions per POST /predict: {commit} (before) against this checkout")
            print(f"{'case':38s} {'before':>12s} {'after':>12s} {'difference':>12s}")
            for case, row in table.items():
                print(
                    f"{case:38s} {row['before']:12,.0f} {row['after']:12,.0f} "
                    f"{row['difference']:+12,.0f}"
                )
            return
        result = process_time_comparison(before, args.rounds, args.calls)
    print(
        f"\nCPU us per POST /predict, {args.rounds} rounds of {args.calls} calls: {commit} "
        "(before) against this checkout (after), alternating"
    )
    print(
        f"{'case':38s} {'before min':>10s} {'median':>8s} {'after min':>10s} {'median':>8s} "
        f"{'diff of mins':>12s} {'paired median':>13s}"
    )
    for case, row in result["cases"].items():
        print(
            f"{case:38s} {row['before min']:10.1f} {row['before median']:8.1f} "
            f"{row['after min']:10.1f} {row['after median']:8.1f} "
            f"{row['difference of mins']:+12.1f} {row['median of paired differences']:+13.1f}"
        )
    for case, same in result["same reply without a language"].items():
        print(f"reply body identical to before's ({case}): {same}")


if __name__ == "__main__":
    main()

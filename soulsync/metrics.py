"""Prometheus metrics, summed over gunicorn workers.

What changes with every request (requests by endpoint, method and status, their latency, and
the drift counts of what is screened) is added into small arrays of this process's own: a few
array adds per request, no lock file and no write per count. Under gunicorn each array is a
memory map in PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py names a folder), one file per worker,
and /metrics sums every worker's files through custom collectors, prometheus-client's public way
to expose such values. What is set once per process (the model served, its load time) uses
prometheus-client's own multiprocess mode.
"""

from __future__ import annotations

import bisect
import glob
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from soulsync.inference.monitoring import CountLayout
from soulsync.questionnaire import GROUPS, NEGATIVE_RESULT, POSITIVE_RESULT, QUESTIONS

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The file ending of this module's arrays in the metrics folder (gunicorn.conf.py empties it).
ARRAY_SUFFIX = ".counts"

MODEL_INFO = Gauge(
    "soulsync_model_info",
    "The model served (value 1).",
    ["version", "backend"],
    multiprocess_mode="max",
)
MODEL_LOAD_SECONDS = Gauge(
    "soulsync_model_load_seconds",
    "Time to load and warm up the model (slowest worker).",
    multiprocess_mode="max",
)

#: The methods that name themselves in metrics; any other a client invents counts as "other",
#: so that clients cannot make new series without bound.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other")
#: The statuses this service answers with; any other counts as "other".
STATUSES = (
    "200", "301", "302", "304", "307", "308", "400", "401", "403", "404", "405", "408", "413",
    "414", "415", "422", "429", "431", "500", "501", "503", "other",
)  # fmt: skip
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def model_loaded(version: str, backend: str, seconds: float) -> None:
    MODEL_INFO.labels(version, backend).set(1)
    MODEL_LOAD_SECONDS.set(seconds)


class SharedArray:
    """A flat array this process adds to, and the sum of every worker's.

    Under gunicorn (PROMETHEUS_MULTIPROC_DIR set) it is a memory map, `<name>_<pid>.counts`;
    a worker that has died still counts, as prometheus-client's counters do. Otherwise it lives
    in memory. Adds hold a lock: the gevent worker runs one greenlet at a time, but a threaded
    server (the Flask test client's, a development server) does not.
    """

    def __init__(self, name: str, size: int, dtype: type = np.int64) -> None:
        self.size, self.dtype = size, dtype
        self.lock = threading.Lock()
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._pattern: str | None = None
        if folder:
            self._pattern = str(Path(folder) / f"{name}_*{ARRAY_SUFFIX}")
            path = Path(folder) / f"{name}_{os.getpid()}{ARRAY_SUFFIX}"
            mapped = np.memmap(path, dtype=dtype, mode="w+", shape=(size,))
            # A plain array over the same memory: a memmap's own indexing is twice as slow.
            self.values: np.ndarray = mapped.view(np.ndarray)
        else:
            self.values = np.zeros(size, dtype=dtype)

    def total(self) -> np.ndarray:
        if self._pattern is None:
            return self.values.copy()
        total = np.zeros(self.size, dtype=self.dtype)
        for path in glob.glob(self._pattern):
            total += np.fromfile(path, dtype=self.dtype, count=self.size)
        return total


class RequestCounts:
    """Requests by endpoint, method and status, and their latency by endpoint (a histogram).

    The endpoints are the app's routes, known when it is built, and "unmatched"; methods and
    statuses are the fixed lists above: whatever clients send, the series stay bounded.
    """

    def __init__(self, endpoints: Sequence[str]) -> None:
        self.endpoints = [*endpoints, "unmatched"]
        self._endpoint = {name: i for i, name in enumerate(self.endpoints)}
        self._method = {name: i for i, name in enumerate(METHODS)}
        self._status = {name: i for i, name in enumerate(STATUSES)}
        e, m, s, b = len(self.endpoints), len(METHODS), len(STATUSES), len(LATENCY_BUCKETS) + 1
        self._shape = (e, m, s)
        self._offset = e * m * s
        self._buckets = b
        self.counts = SharedArray("requests", self._offset + e * b)
        self.seconds = SharedArray("request_seconds", e, np.float64)

    def record(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        e = self._endpoint.get(endpoint, len(self.endpoints) - 1)
        m = self._method.get(method, len(METHODS) - 1)
        s = self._status.get(str(status), len(STATUSES) - 1)
        slot = (e * len(METHODS) + m) * len(STATUSES) + s
        bucket = self._offset + e * self._buckets + bisect.bisect_left(LATENCY_BUCKETS, seconds)
        counts = self.counts.values
        with self.counts.lock:
            counts[slot] += 1
            counts[bucket] += 1
            self.seconds.values[e] += seconds

    def collect(self) -> Iterator[Metric]:
        counts, seconds = self.counts.total(), self.seconds.total()
        requests = CounterMetricFamily(
            "soulsync_http_requests",
            "HTTP requests by endpoint, method and status.",
            labels=["endpoint", "method", "status"],
        )
        table = counts[: self._offset].reshape(self._shape)
        for e, m, s in zip(*np.nonzero(table), strict=True):
            requests.add_metric([self.endpoints[e], METHODS[m], STATUSES[s]], float(table[e, m, s]))
        latency = HistogramMetricFamily(
            "soulsync_http_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            labels=["endpoint"],
        )
        buckets = counts[self._offset :].reshape(len(self.endpoints), self._buckets)
        edges = [*(str(edge) for edge in LATENCY_BUCKETS), "+Inf"]
        for e, endpoint in enumerate(self.endpoints):
            if buckets[e].any():
                cumulative = np.cumsum(buckets[e]).tolist()
                latency.add_metric(
                    [endpoint], list(zip(edges, cumulative, strict=True)), float(seconds[e])
                )
        yield from (requests, latency)


class LiveCounts:
    """What the screener has seen: answers, score bins and results per group, in a CountLayout.
    Only counts: nothing here can tell one person's answers from another's."""

    def __init__(self, layout: CountLayout, version: str) -> None:
        self.layout = layout
        self.version = version
        self._array = SharedArray(f"live_{version}", layout.size)

    def add(self, answers: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray) -> None:
        if len(answers) == 1:  # the common case, in plain Python: numpy costs more for one row
            slots = self.layout.slots_of_one(
                answers[0].tolist(), float(probabilities[0]), bool(flagged[0])
            )
        else:
            slots = self.layout.slots(answers, probabilities, flagged)
        values = self._array.values
        with self._array.lock:
            np.add.at(values, slots, 1)

    def total(self) -> np.ndarray:
        """Every worker's counts summed (this process's alone outside gunicorn)."""
        return self._array.total()

    def collect(self) -> Iterator[Metric]:
        counts = self.total()
        answers = CounterMetricFamily(
            "soulsync_answers",
            "Questionnaires scored, by group and each question's answer (its code).",
            labels=["model_version", "group", "question", "answer"],
        )
        scores = HistogramMetricFamily(
            "soulsync_scores",
            "Probabilities given, by group.",
            labels=["model_version", "group"],
        )
        results = CounterMetricFamily(
            "soulsync_predictions",
            "Questionnaires scored, by group and result.",
            labels=["model_version", "group", "result"],
        )
        edges = [*(str(edge) for edge in self.layout.score_edges), "+Inf"]
        for group in GROUPS.values():
            seen = self.layout.group_counts(counts, group)
            for question in QUESTIONS:
                for option, count in zip(question.options, seen.answers[question.key], strict=True):
                    answers.add_metric([self.version, group, question.key, str(option.code)], count)
            cumulative = np.cumsum(seen.scores).tolist()
            scores.add_metric(
                [self.version, group], list(zip(edges, cumulative, strict=True)), None
            )
            results.add_metric([self.version, group, NEGATIVE_RESULT], seen.negative)
            results.add_metric([self.version, group, POSITIVE_RESULT], seen.positive)
        yield from (answers, scores, results)


class _ProcessMetrics:
    """prometheus-client's own metrics of this process (outside gunicorn)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(*collectors: RequestCounts | LiveCounts | None) -> bytes:
    """Every metric in Prometheus' text format: prometheus-client's (all workers' in
    multiprocess mode) and `collectors`'."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    for collector in collectors:
        if collector is not None:
            registry.register(collector)
    return generate_latest(registry)

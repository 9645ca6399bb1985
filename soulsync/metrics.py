"""Prometheus metrics, correct across gunicorn workers through prometheus-client's
multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it)."""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from soulsync.inference.monitoring import CountLayout
from soulsync.questionnaire import GROUPS, NEGATIVE_RESULT, POSITIVE_RESULT, QUESTIONS

REQUESTS = Counter(
    "soulsync_http_requests_total",
    "HTTP requests by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "soulsync_http_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
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
CONTENT_TYPE = CONTENT_TYPE_LATEST


def model_loaded(version: str, backend: str, seconds: float) -> None:
    MODEL_INFO.labels(version, backend).set(1)
    MODEL_LOAD_SECONDS.set(seconds)


def exposition(live: LiveCounts | None = None) -> bytes:
    """Every metric in Prometheus' text format, with the drift counts of `live`: all workers'
    in multiprocess mode, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    if live is not None:
        registry.register(live)
    return generate_latest(registry)


class _Default:
    """This process's own metrics (the default registry), for a registry of several."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class LiveCounts:
    """This process's drift counts (answers, score bins and results per group, in a
    CountLayout): a few adds per questionnaire into one small array, no per-count file write.

    Under gunicorn the array is a memory map in the metrics folder, one file per worker, so
    that /metrics and /monitoring sum every worker's; otherwise it lives in memory. Only
    counts: nothing here can tell one person's answers from another's.
    """

    def __init__(self, layout: CountLayout, version: str) -> None:
        self.layout = layout
        self.version = version
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._pattern = None
        if folder:
            name = f"live_{version}_{os.getpid()}.counts"
            self._pattern = str(Path(folder) / f"live_{version}_*.counts")
            self._counts = np.memmap(
                Path(folder) / name, dtype=np.int64, mode="w+", shape=(layout.size,)
            )
        else:
            self._counts = np.zeros(layout.size, dtype=np.int64)
        # Threads of one worker add to the same array; an add is a few microseconds.
        self._lock = threading.Lock()

    def add(self, answers: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray) -> None:
        slots = self.layout.slots(answers, probabilities, flagged)
        with self._lock:
            np.add.at(self._counts, slots, 1)

    def total(self) -> np.ndarray:
        """Every worker's counts summed (this process's alone outside gunicorn)."""
        if self._pattern is None:
            return self._counts.copy()
        total = np.zeros(self.layout.size, dtype=np.int64)
        for path in glob.glob(self._pattern):
            total += np.fromfile(path, dtype=np.int64, count=self.layout.size)
        return total

    def collect(self) -> Iterator[Metric]:
        """The counts as Prometheus metrics (a custom collector's `collect`)."""
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

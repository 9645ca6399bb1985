"""Prometheus metrics, through prometheus-client, summed over gunicorn's workers by its own
multiprocess mode (gunicorn.conf.py names the folder, PROMETHEUS_MULTIPROC_DIR, and marks dead
workers).

Two kinds: what each request was (route, method, status, latency), counted as it happens; and
what the screener saw (answers, scores and results per group), which is health data and so
leaves a worker only in aggregate: a worker keeps a group's counts to itself until at least
PUBLISH_EVERY questionnaires of that group have been screened, then adds them all to the
counters at once. No scrape, however often, can read one questionnaire back; `GET /monitoring`
reads the same published counters.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from soulsync.inference.drift import CountLayout
from soulsync.questionnaire import GROUPS, NEGATIVE_RESULT, POSITIVE_RESULT, QUESTIONS

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: A group's drift counts leave a worker in steps of at least this many questionnaires.
PUBLISH_EVERY = 100
#: The methods that name themselves in metrics; any other a client invents counts as "other",
#: so that clients cannot make new series without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The statuses this service answers with; any other counts as "other".
STATUSES = frozenset(
    {200, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408, 411, 413, 414, 415, 422}
    | {429, 431, 500, 501, 503}
)
#: The drift counters' names (prometheus-client adds `_total` to each).
ANSWERS, SCORE_BINS, PREDICTIONS = "soulsync_answers", "soulsync_score_bins", "soulsync_predictions"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def multiprocess_mode() -> bool:
    """Whether values live in files that every worker adds to (under gunicorn)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServiceMetrics:
    """Every metric of one app. Outside gunicorn (tests, a development server) they live in the
    app's own registry; under gunicorn, in prometheus-client's files, summed at each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "soulsync_http_requests",
            "HTTP requests by endpoint (the route, or 'unmatched'), method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "soulsync_http_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_info = Gauge(
            "soulsync_model_info",
            "The model served (value 1).",
            ["version", "backend"],
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.model_load_seconds = Gauge(
            "soulsync_model_load_seconds",
            "Time to load and warm up the model (slowest worker).",
            multiprocess_mode="max",
            registry=self.registry,
        )
        # The counters of one request kind, made once: labels() is a look-up under a lock.
        self._request_series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def record_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count a request under its route (or "unmatched"): whatever a client sends, each
        route has a handful of series."""
        key = (
            endpoint,
            method,
            str(status) if status in STATUSES else "other",
        )
        series = self._request_series.get(key)
        if series is None:
            series = (self.requests.labels(*key), self.latency.labels(key[0]))
            self._request_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def model_loaded(self, version: str, backend: str, seconds: float) -> None:
        self.model_info.labels(version, backend).set(1)
        self.model_load_seconds.set(seconds)

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format (all workers' under gunicorn)."""
        return generate_latest(collecting_registry(self.registry))


def collecting_registry(own: CollectorRegistry) -> CollectorRegistry:
    """What a scrape reads: every worker's files under gunicorn, else this app's registry."""
    if not multiprocess_mode():
        return own
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class LiveCounts:
    """What the screener has seen (answers, score bins and results per group, in a
    CountLayout), published to Prometheus counters in aggregate steps only."""

    def __init__(self, layout: CountLayout, version: str, metrics: ServiceMetrics) -> None:
        self.layout = layout
        self.version = version
        self._registry = metrics.registry
        self._pending = [0] * layout.size
        self._pending_questionnaires = dict.fromkeys(GROUPS.values(), 0)
        self._lock = threading.Lock()  # the gevent worker needs none; threaded servers do
        answers = Counter(
            ANSWERS,
            f"Questionnaires screened, by group and each question's answer (its code), "
            f"published in steps of at least {PUBLISH_EVERY} per group.",
            ["model_version", "group", "question", "answer"],
            registry=self._registry,
        )
        scores = Counter(
            SCORE_BINS,
            "Probabilities given, by group, counted in bins (le: the bin's upper edge), "
            "published with the answers.",
            ["model_version", "group", "le"],
            registry=self._registry,
        )
        results = Counter(
            PREDICTIONS,
            "Questionnaires screened, by group and result, published with the answers.",
            ["model_version", "group", "result"],
            registry=self._registry,
        )
        edges = [*(str(edge) for edge in layout.score_edges), "+Inf"]
        named = {ANSWERS: answers, SCORE_BINS: scores, PREDICTIONS: results}
        #: Each slot's series: (counter name, its labels, the group it belongs to).
        series: dict[int, tuple[str, dict[str, str], str]] = {}
        for group in GROUPS.values():
            slots = layout.group_slots(group)
            common = {"model_version": version, "group": group}
            for question in QUESTIONS:
                for option, slot in zip(question.options, slots.answers[question.key], strict=True):
                    labels = {**common, "question": question.key, "answer": str(option.code)}
                    series[slot] = (ANSWERS, labels, group)
            for edge, slot in zip(edges, slots.scores, strict=True):
                series[slot] = (SCORE_BINS, {**common, "le": edge}, group)
            for result, slot in (
                (NEGATIVE_RESULT, slots.negative),
                (POSITIVE_RESULT, slots.positive),
            ):
                series[slot] = (PREDICTIONS, {**common, "result": result}, group)
        #: Each slot's counter child and group, made once (labels() is a look-up under a lock).
        self._children = [
            (named[series[slot][0]].labels(**series[slot][1]), series[slot][2])
            for slot in range(layout.size)
        ]
        #: Which slot a published sample is, by (sample name, labels).
        self._index = {
            (f"{name}_total", frozenset(labels.items())): slot
            for slot, (name, labels, _) in series.items()
        }

    def add(self, answers: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray) -> None:
        """Count a batch screened ((n, 10) codes, probabilities, results), and publish each
        group whose unpublished questionnaires now reach PUBLISH_EVERY."""
        layout, pending, waiting = self.layout, self._pending, self._pending_questionnaires
        with self._lock:
            for row, probability, positive in zip(
                answers.tolist(), probabilities.tolist(), flagged.tolist(), strict=True
            ):
                for slot in layout.slots_of(row, probability, positive):
                    pending[slot] += 1
                waiting[layout.group_of(row)] += 1
            for group, count in waiting.items():
                if count >= PUBLISH_EVERY:
                    self._publish(group)

    def _publish(self, group: str) -> None:
        pending = self._pending
        for slot, (child, owner) in enumerate(self._children):
            if owner == group and pending[slot]:
                child.inc(pending[slot])
                pending[slot] = 0
        self._pending_questionnaires[group] = 0

    def published(self) -> np.ndarray:
        """The published counts of every worker, in the layout (this app's alone outside
        gunicorn)."""
        counts = np.zeros(self.layout.size, dtype=np.int64)
        for family in collecting_registry(self._registry).collect():
            for sample in family.samples:
                slot = self._index.get((sample.name, frozenset(sample.labels.items())))
                if slot is not None:
                    counts[slot] += int(sample.value)
        return counts

"""Prometheus metrics, through prometheus-client, summed over gunicorn's workers by its own
multiprocess mode (gunicorn.conf.py names the folder, PROMETHEUS_MULTIPROC_DIR, and marks dead
workers).

Two kinds: what each request was (route, method, status, latency), counted as it happens; and
what the screener saw (answers, scores and results per group), which is health data and so
leaves a worker only in aggregate and with noise: a worker keeps a group's counts to itself
until at least PUBLISH_EVERY questionnaires of that group have been screened, then adds them
to the counters at once, each with noise drawn for that publication alone (`DiscreteLaplace`,
EPSILON per published figure: differential privacy). Someone who sent every other questionnaire
of a publication, and differences the counters around it, still reads the last person's answers
only through that noise; and since each publication's noise is drawn once and never again,
scraping again and again averages nothing away. `GET /monitoring` reads the same counters.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable

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

from soulsync.inference.drift_counts import CountLayout
from soulsync.questionnaire import GROUPS, NEGATIVE_RESULT, POSITIVE_RESULT, QUESTIONS

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: A group's drift counts leave a worker in steps of at least this many questionnaires.
PUBLISH_EVERY = 100
#: The privacy of each published drift figure (a counter's increment in one publication): one
#: person's questionnaire changes it by at most 1, and the noise makes any two values a person
#: could have caused at most e**EPSILON times as likely as each other. docs/monitoring.md says
#: what that means for an answer, a result, a whole questionnaire, and for the drift alert.
EPSILON = 0.5
#: The fewest questionnaires of a group from which the live, noisy counts are judged (GET
#: /monitoring, the drift alert): below it, the noise of a few publications reads as a shift
#: of the rarest score bins often enough to mislead (bench/drift_noise.py, docs/monitoring.md);
#: exact counts (soulsync monitor's exports) are judged from drift.MINIMUM_COUNT.
LIVE_MINIMUM_COUNT = 2000
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


def with_noise(
    counts: np.ndarray, noise: np.ndarray, owed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What one publication adds to each count, and what is still owed: the count with its noise
    and what earlier noise took below zero; where that is below zero, nothing is published and
    the rest is carried on to the next publication."""
    noisy = counts + noise + owed
    return np.maximum(noisy, 0), np.minimum(noisy, 0)


class DiscreteLaplace:
    """Noise for integer counts: the difference of two geometric draws (the two-sided geometric
    distribution), whose probabilities fall by e**-epsilon per unit away from 0, so that a count
    one higher is at most e**epsilon times as likely to give any noisy value. Its generator is
    seeded from the operating system's entropy, afresh in each process."""

    def __init__(self, epsilon: float, rng: np.random.Generator | None = None) -> None:
        self.keep = 1.0 - math.exp(-epsilon)  # each draw's chance to stop, step by step
        self.rng = rng if rng is not None else np.random.default_rng()

    def __call__(self, size: int) -> np.ndarray:
        first, second = self.rng.geometric(self.keep, (2, size))
        return first - second


#: Where an app keeps its LiveCounts (soulsync/server.py publishes what is left at a worker's
#: exit).
LIVE_COUNTS = "soulsync.live_counts"
#: Noise for the counts of one publication, given how many counts it holds.
Noise = Callable[[int], np.ndarray]


class LiveCounts:
    """What the screener has seen (answers, score bins and results per group, in a
    CountLayout), published to Prometheus counters in aggregate steps only, with noise.

    A counter never goes down: a noisy increment below zero is published as zero and the rest
    carried into that counter's next publication (post-processing of the noisy values, which
    keeps their privacy), so that the counts stay unbiased over time."""

    def __init__(
        self,
        layout: CountLayout,
        version: str,
        metrics: ServiceMetrics,
        noise: Noise | None = None,
    ) -> None:
        self.layout = layout
        self.version = version
        self._registry = metrics.registry
        self._noise = noise if noise is not None else DiscreteLaplace(EPSILON)
        self._pending = [0] * layout.size
        #: What each counter's noise took below zero, still to be taken from it.
        self._owed = [0] * layout.size
        self._pending_questionnaires = dict.fromkeys(GROUPS.values(), 0)
        self._published = dict.fromkeys(GROUPS.values(), 0)
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

    def flush(self) -> None:
        """Publish what a worker that is exiting still holds, of each group it has screened at
        least PUBLISH_EVERY of in its life: a step's worth of people stand behind its counts
        as behind any publication's, and its noise is its own."""
        with self._lock:
            for group, count in self._pending_questionnaires.items():
                if count and self._published[group] >= PUBLISH_EVERY:
                    self._publish(group)

    def _publish(self, group: str) -> None:
        pending, owed = self._pending, self._owed
        slots = [slot for slot, (_, owner) in enumerate(self._children) if owner == group]
        added, still_owed = with_noise(
            np.array([pending[slot] for slot in slots]),
            self._noise(len(slots)),
            np.array([owed[slot] for slot in slots]),
        )
        for slot, add, left in zip(slots, added.tolist(), still_owed.tolist(), strict=True):
            if add > 0:
                self._children[slot][0].inc(add)
            owed[slot] = left
            pending[slot] = 0
        self._published[group] += self._pending_questionnaires[group]
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

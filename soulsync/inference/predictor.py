"""The predictor: a loaded model, its card, and what a score means (result, risk, factors).

Loaded once per process and warmed up with one prediction before the service says it is ready.
It knows nothing of HTTP: it takes answers as wire codes and returns plain data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soulsync.inference.backends import Backend, load_backend
from soulsync.inference.card import ModelCard
from soulsync.questionnaire import CONTRACT_EXAMPLE, KEYS

#: Risk levels by probability. "low" is everything below the model's threshold, so the level
#: never contradicts the result; above it, fixed cut-offs at 0.5 and 0.8.
HIGH_FROM = 0.5
VERY_HIGH_FROM = 0.8
RISK_LEVELS = ("low", "moderate", "high", "very_high")


def risk_level(probability: float, threshold: float) -> str:
    if probability < threshold:
        return "low"
    if probability < HIGH_FROM:
        return "moderate"
    if probability < VERY_HIGH_FROM:
        return "high"
    return "very_high"


@dataclass(frozen=True)
class Factor:
    """How much one answer moved the score: the probability with the answer minus the
    probability with the reference answer in its place (positive: it raised the risk)."""

    key: str
    answer: int
    reference: int
    effect: float


@dataclass(frozen=True)
class Prediction:
    probability: float
    positive: bool
    risk_level: str
    factors: tuple[Factor, ...]


class Predictor:
    """One model, ready to score questionnaires."""

    def __init__(self, backend: Backend, card: ModelCard, top_factors: int = 3) -> None:
        self.backend = backend
        self.card = card
        self.top_factors = top_factors
        self._reference_codes = [card.references[key] for key in KEYS]
        self._references = np.array(self._reference_codes, dtype=np.float32)
        # Row 0 of each questionnaire's block is itself; row j + 1 has answer j replaced.
        self._swapped_columns = np.arange(len(KEYS))
        self._swapped_rows = self._swapped_columns + 1
        self.ready = False
        self.load_seconds = 0.0

    @classmethod
    def load(cls, path: Path, top_factors: int = 3) -> Predictor:
        """Load the model at `path` and warm it up; raises ModelLoadError on a bad file."""
        started = time.perf_counter()
        backend = load_backend(path)
        predictor = cls(backend, ModelCard.for_model(path), top_factors)
        predictor.predict([CONTRACT_EXAMPLE])  # warm-up: the first call allocates
        predictor.load_seconds = time.perf_counter() - started
        predictor.ready = True
        return predictor

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def predict(self, answers: Sequence[Mapping[str, int]]) -> list[Prediction]:
        """Score each questionnaire and attribute its score, all in one model call.

        Each questionnaire becomes 11 rows: itself, and itself with each answer in turn
        replaced by the reference answer; the differences are the factors.
        """
        count, width = len(answers), len(KEYS)
        rows = [[a[key] for key in KEYS] for a in answers]
        variants = np.repeat(np.array(rows, dtype=np.float32), width + 1, axis=0)
        variants = variants.reshape(count, width + 1, width)
        variants[:, self._swapped_rows, self._swapped_columns] = self._references
        scores = self.backend.predict(variants.reshape(-1, width)).reshape(count, width + 1)
        effects = scores[:, :1] - scores[:, 1:]
        order = np.argsort(-np.abs(effects), axis=1, kind="stable")[:, : self.top_factors]

        # Plain Python numbers from here on: indexing numpy arrays one scalar at a time is
        # several times slower, and this loop runs for every questionnaire.
        probabilities = scores[:, 0].tolist()
        effect_lists, order_lists = effects.tolist(), order.tolist()
        predictions = []
        for i in range(count):
            probability, effect = probabilities[i], effect_lists[i]
            factors = tuple(
                Factor(KEYS[j], rows[i][j], self._reference_codes[j], effect[j])
                for j in order_lists[i]
                if effect[j] != 0.0
            )
            predictions.append(
                Prediction(
                    probability=probability,
                    positive=probability >= self.threshold,
                    risk_level=risk_level(probability, self.threshold),
                    factors=factors,
                )
            )
        return predictions

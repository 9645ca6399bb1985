"""The predictor: a model's probability for each questionnaire, and the answers behind it.

It knows nothing of HTTP or of decisions: answers in (wire codes), probabilities and factors
out. What a probability means for the person is the screening rules' business (screening.py).
A recalibrated model's probability map applies here, to every row the backend scores, so the
probabilities and the factors are both the mapped ones, whatever the backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from soulsync.inference.backends import Backend
from soulsync.inference.probability_map import GroupMap, apply_to_rows
from soulsync.questionnaire import GROUP_KEY, KEYS

#: The answers a factor may name: every one but the person's group (student or working
#: professional), which no one can act on, and for which their threshold already accounts.
FACTOR_COLUMNS = tuple(column for column, key in enumerate(KEYS) if key != GROUP_KEY)


@dataclass(frozen=True)
class Factor:
    """How much one answer moved the score: the probability with the answer minus the
    probability with the reference answer in its place (positive: it raised the risk)."""

    key: str
    answer: int
    reference: int
    effect: float


@dataclass(frozen=True)
class Predictions:
    """A batch scored: the answers as codes (n, 10), one probability and its factors each."""

    codes: np.ndarray
    probabilities: np.ndarray
    factors: list[tuple[Factor, ...]]


class Predictor:
    """One model's runtime, with the reference answers its factors are measured against."""

    def __init__(
        self,
        backend: Backend,
        references: Mapping[str, int],
        top_factors: int = 3,
        probability_map: Mapping[str, GroupMap] | None = None,
    ) -> None:
        self.backend = backend
        self.top_factors = top_factors
        self.probability_map = dict(probability_map) if probability_map else None
        self._reference_codes = [references[key] for key in KEYS]
        # Row 0 of each questionnaire's block is itself; row m + 1 has the answer of column
        # FACTOR_COLUMNS[m] replaced by its reference: where _swapped is True, the block takes
        # _references.
        width, rows = len(KEYS), len(FACTOR_COLUMNS) + 1
        self._swapped = np.zeros((rows, width), bool)
        for row, column in enumerate(FACTOR_COLUMNS, start=1):
            self._swapped[row, column] = True
        self._references = np.broadcast_to(
            np.array(self._reference_codes, dtype=np.float32), (rows, width)
        )

    def probabilities(self, codes: np.ndarray) -> np.ndarray:
        """The probability of each row of (n, 10) codes in KEYS order, without factors."""
        return self._scored(np.asarray(codes, dtype=np.float32))

    def _scored(self, rows: np.ndarray) -> np.ndarray:
        """The backend's probabilities of (n, 10) float32 rows, through the map if there is one
        (each row under the map of the group it answers)."""
        probabilities = self.backend.predict(rows)
        if self.probability_map is None:
            return probabilities
        return apply_to_rows(probabilities, rows, self.probability_map)

    def predict(self, answers: Sequence[Mapping[str, int]]) -> Predictions:
        """Score each questionnaire and attribute its score, all in one model call.

        Each questionnaire becomes ten rows: itself, and itself with each answer but the group
        in turn replaced by the reference answer; the differences are the factors.
        """
        count, width, block = len(answers), len(KEYS), len(FACTOR_COLUMNS) + 1
        rows = [[a[key] for key in KEYS] for a in answers]
        codes = np.array(rows, dtype=np.int64)
        variants = np.where(self._swapped, self._references, codes[:, None, :].astype(np.float32))
        scores = self._scored(variants.reshape(-1, width)).reshape(count, block)
        effects = scores[:, :1] - scores[:, 1:]
        order = np.argsort(-np.abs(effects), axis=1, kind="stable")[:, : self.top_factors]

        # Plain Python numbers from here on: indexing numpy arrays one scalar at a time is
        # several times slower, and this loop runs for every questionnaire.
        effect_lists, order_lists = effects.tolist(), order.tolist()
        factors = [
            tuple(
                Factor(
                    KEYS[column := FACTOR_COLUMNS[m]],
                    rows[i][column],
                    self._reference_codes[column],
                    effect_lists[i][m],
                )
                for m in order_lists[i]
                if effect_lists[i][m] != 0.0
            )
            for i in range(count)
        ]
        return Predictions(codes, scores[:, 0], factors)

"""Where each count of the drift figures lives: one flat array per group, every answer option
of every question, every score bin and the two results. Live traffic (soulsync/metrics.py) and
exports (`soulsync monitor`) both count through it; soulsync/inference/drift.py reads the
figures from it."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from soulsync.questionnaire import GROUP_COLUMN, GROUPS, QUESTIONS


class CountLayout:
    """Where each count lives in one flat array, per group: every answer option of every
    question, every score bin, and the two results. One rule places a questionnaire
    (`slots_of`); live counts and exports both count through it."""

    def __init__(self, score_edges: Sequence[float]) -> None:
        self.score_edges = list(score_edges)
        self.answer_slots = sum(len(q.options) for q in QUESTIONS)
        self.score_slots = len(self.score_edges) + 1
        self.per_group = self.answer_slots + self.score_slots + 2
        self.size = self.per_group * len(GROUPS)
        self._offsets = np.cumsum([0, *(len(q.options) for q in QUESTIONS[:-1])]).tolist()
        self._lows = [q.min_code for q in QUESTIONS]

    def slots_of(self, answers: list[int], probability: float, flagged: bool) -> list[int]:
        """The slots one questionnaire (its ten codes in KEYS order) adds one to."""
        base = answers[GROUP_COLUMN] * self.per_group
        slots = [
            base + offset + code - low
            for offset, code, low in zip(self._offsets, answers, self._lows, strict=True)
        ]
        scores = base + self.answer_slots
        slots.append(scores + bisect.bisect_left(self.score_edges, probability))
        slots.append(scores + self.score_slots + int(flagged))
        return slots

    def group_of(self, answers: list[int]) -> str:
        return GROUPS[answers[GROUP_COLUMN]]

    def count(
        self, answers: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray
    ) -> np.ndarray:
        """The counts of a set of questionnaires, in this layout."""
        counts = [0] * self.size
        for row, probability, positive in zip(
            answers.tolist(), probabilities.tolist(), flagged.tolist(), strict=True
        ):
            for slot in self.slots_of(row, probability, positive):
                counts[slot] += 1
        return np.array(counts, dtype=np.int64)

    def group_slots(self, group: str) -> GroupSlots:
        """Which slot holds each of a group's counts."""
        code = next(code for code, name in GROUPS.items() if name == group)
        base = code * self.per_group
        scores = base + self.answer_slots
        return GroupSlots(
            answers={
                q.key: [base + offset + i for i in range(len(q.options))]
                for q, offset in zip(QUESTIONS, self._offsets, strict=True)
            },
            scores=list(range(scores, scores + self.score_slots)),
            negative=scores + self.score_slots,
            positive=scores + self.score_slots + 1,
        )

    def group_counts(self, counts: np.ndarray, group: str) -> GroupCounts:
        slots = self.group_slots(group)
        values = counts.tolist()
        return GroupCounts(
            answers={key: [values[s] for s in held] for key, held in slots.answers.items()},
            scores=[values[s] for s in slots.scores],
            negative=values[slots.negative],
            positive=values[slots.positive],
        )


@dataclass(frozen=True)
class GroupSlots:
    answers: dict[str, list[int]]
    scores: list[int]
    negative: int
    positive: int


@dataclass(frozen=True)
class GroupCounts:
    answers: dict[str, list[int]]
    scores: list[int]
    negative: int
    positive: int

    @property
    def questionnaires(self) -> int:
        return self.negative + self.positive

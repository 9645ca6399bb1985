"""The screening rules: what a probability means for the person who answered.

The result, the threshold applied, the risk level and whether support is due follow from the
probability, the person's group and the decision rules of the model card (inference/decision.py).
These are the product's most important rules, so they live here, once, testable without HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soulsync.inference.backends import ModelLoadError, load_backend
from soulsync.inference.decision import RiskLevel, flag
from soulsync.inference.model_folder import CardError, ServingCard, read_card
from soulsync.inference.predictor import Factor, Predictor
from soulsync.questionnaire import (
    CONTRACT_EXAMPLE,
    GROUP_COLUMN,
    GROUP_KEY,
    GROUPS,
    NEGATIVE_RESULT,
    POSITIVE_RESULT,
    SUICIDAL_THOUGHTS_KEY,
)


@dataclass(frozen=True)
class Screening:
    """The outcome for one questionnaire."""

    probability: float
    group: str
    threshold: float
    #: The version of the model that scored it.
    model_version: str
    risk_level: RiskLevel
    factors: tuple[Factor, ...]
    #: Whether the person must be shown where to get help: always after suicidal thoughts,
    #: whatever the score, and with every Depression result.
    support_due: bool

    @property
    def positive(self) -> bool:
        return self.risk_level is not RiskLevel.LOW

    @property
    def result(self) -> str:
        return POSITIVE_RESULT if self.positive else NEGATIVE_RESULT


@dataclass(frozen=True)
class Screened:
    """A batch screened: each questionnaire's outcome, and the batch as arrays (answers as
    codes in KEYS order, probabilities, whether flagged) for whoever counts what was seen."""

    screenings: list[Screening]
    codes: np.ndarray
    probabilities: np.ndarray
    flagged: np.ndarray


class Screener:
    """A loaded model and its card's decision rules, ready to screen questionnaires."""

    def __init__(self, predictor: Predictor, card: ServingCard) -> None:
        self.predictor = predictor
        self.card = card
        self.rules = dict(card.rules)
        self.load_seconds = 0.0

    @classmethod
    def load(cls, path: Path, top_factors: int = 3) -> Screener:
        """Load the model at `path` with its card, and warm it up.

        Raises ModelLoadError for a file that cannot be served.
        """
        started = time.perf_counter()
        backend = load_backend(path)
        try:
            card = read_card(path)
        except CardError as error:
            raise ModelLoadError(path, str(error)) from error
        predictor = Predictor(backend, card.reference_answers, top_factors, card.probability_map)
        screener = cls(predictor, card)
        screener.screen([CONTRACT_EXAMPLE])  # warm-up: the first call allocates
        screener.load_seconds = time.perf_counter() - started
        return screener

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def backend_name(self) -> str:
        return self.predictor.backend.name

    def screen(self, questionnaires: Sequence[Mapping[str, int]]) -> Screened:
        """Score each questionnaire (answers as wire codes) and apply its group's rule."""
        predicted = self.predictor.predict(questionnaires)
        probabilities = predicted.probabilities.tolist()
        screenings = []
        for answers, probability, factors in zip(
            questionnaires, probabilities, predicted.factors, strict=True
        ):
            group = GROUPS[answers[GROUP_KEY]]
            rule = self.rules[group]
            level = rule.risk_level(probability)
            screenings.append(
                Screening(
                    probability=probability,
                    group=group,
                    threshold=rule.threshold,
                    model_version=self.version,
                    risk_level=level,
                    factors=factors,
                    support_due=level is not RiskLevel.LOW or answers[SUICIDAL_THOUGHTS_KEY] == 1,
                )
            )
        flagged = np.array([screening.positive for screening in screenings])
        return Screened(screenings, predicted.codes, predicted.probabilities, flagged)

    def score(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and results (flagged: Depression) of many questionnaires at once,
        (n, 10) codes in KEYS order, without factors: for exports of any size."""
        probabilities = self.predictor.probabilities(codes)
        return probabilities, flag(probabilities, codes[:, GROUP_COLUMN], self.rules)

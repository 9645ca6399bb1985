"""The decision rule: what a probability means for the person of a group, defined once.

Serving (one questionnaire at a time), training (choosing and checking the rule), the retraining
check and the drift monitor (whole arrays) all apply the rule through this module.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from soulsync.questionnaire import GROUPS

#: For a model with no card: the old service's cut-off, for everyone.
FALLBACK_THRESHOLD = 0.5
#: Where `high` and `very_high` started in cards from before the rules were given per group.
LEGACY_BAND_STARTS = (0.5, 0.8)


class RiskLevel(StrEnum):
    """Ordered levels; `low` is exactly the result No Depression."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    VERY_HIGH = "very_high"


RISK_LEVEL_RULE = (
    "`low`: below the threshold of the person's group (students or working professionals), so "
    "the result is No Depression. `moderate`, `high`, `very_high`: rising bands from that "
    "threshold up, each meaning the result is Depression. Each group's threshold and the "
    "probabilities where `high` and `very_high` start are in `GET /model`, under `decision`."
)

_RAISED = (RiskLevel.MODERATE, RiskLevel.HIGH, RiskLevel.VERY_HIGH)


@dataclass(frozen=True)
class DecisionRule:
    """One group's decision: Depression from `threshold`, and where the higher bands start.

    `band_starts` are the probabilities from which `high` and `very_high` start; `moderate`
    starts at the threshold, so a level never contradicts the result.
    """

    threshold: float
    band_starts: tuple[float, float]

    def __post_init__(self) -> None:
        high, very_high = self.band_starts
        if not 0.0 < self.threshold <= high <= very_high <= 1.0:
            raise ValueError(
                f"decision rule out of order: threshold {self.threshold}, bands {self.band_starts}"
            )

    def risk_level(self, probability: float) -> RiskLevel:
        if probability < self.threshold:
            return RiskLevel.LOW
        return _RAISED[bisect.bisect_right(self.band_starts, probability)]

    def level_indices(self, probabilities: np.ndarray) -> np.ndarray:
        """`risk_level` of each probability, as its index in RiskLevel (0 is `low`)."""
        starts = np.array([self.threshold, *self.band_starts])
        return np.searchsorted(starts, probabilities, side="right")


def one_rule_for_everyone(threshold: float) -> dict[str, DecisionRule]:
    """The rule of a model whose card has one threshold for every group (or no card)."""
    high, very_high = (max(threshold, start) for start in LEGACY_BAND_STARTS)
    return dict.fromkeys(GROUPS.values(), DecisionRule(threshold, (high, very_high)))


def flag(
    probabilities: np.ndarray, groups: np.ndarray, rules: Mapping[str, DecisionRule]
) -> np.ndarray:
    """Where each row's result is Depression under its group's rule (`groups`: the codes of
    WorkOrStudent)."""
    thresholds = np.zeros(max(GROUPS) + 1)
    for code, name in GROUPS.items():
        thresholds[code] = rules[name].threshold
    return probabilities >= thresholds[np.asarray(groups, dtype=np.int64)]

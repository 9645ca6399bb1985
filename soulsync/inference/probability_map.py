"""A probability map: each group's model output re-fitted to a population, as
`sigmoid(intercept + slope * logit(p))` (a logistic re-fit on the model's logit).

A recalibrated model folder (`soulsync recalibrate`) carries one in its card; the predictor
applies it to every probability the backend returns, whatever the backend, so results, levels
and factors all use the mapped probabilities. A card without a map is served as the model
computes it. numpy only: the serving domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from soulsync.questionnaire import GROUP_COLUMN, GROUPS

#: A probability is kept this far from 0 and 1 before its logit is taken (a float32 sigmoid
#: can return exactly 0 or 1).
PROBABILITY_FLOOR = 1e-7


def logit(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return np.log(clipped) - np.log1p(-clipped)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    # Clipped so that exp() cannot overflow; sigmoid(±500) is 0 or 1 in float64 anyway.
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -500.0, 500.0)))


@dataclass(frozen=True)
class GroupMap:
    """One group's map on the logit scale: the identity is intercept 0, slope 1."""

    intercept: float
    slope: float


IDENTITY = GroupMap(intercept=0.0, slope=1.0)


def apply_map(
    probabilities: np.ndarray, groups: np.ndarray, maps: Mapping[str, GroupMap]
) -> np.ndarray:
    """Each probability through its group's map (`groups`: the codes of WorkOrStudent); a
    group without a map keeps its probabilities."""
    intercepts = np.zeros(max(GROUPS) + 1)
    slopes = np.ones(max(GROUPS) + 1)
    for code, name in GROUPS.items():
        found = maps.get(name, IDENTITY)
        intercepts[code], slopes[code] = found.intercept, found.slope
    codes = np.asarray(groups, dtype=np.int64)
    return sigmoid(intercepts[codes] + slopes[codes] * logit(probabilities))


def apply_to_rows(
    probabilities: np.ndarray, answers: np.ndarray, maps: Mapping[str, GroupMap]
) -> np.ndarray:
    """`apply_map` for rows of (n, 10) wire codes: each row under its own group's map."""
    return apply_map(probabilities, answers[:, GROUP_COLUMN], maps)

"""The stress test and the selection rule on made-up predictions: a candidate that is
over-confident for a population the family holds loses to one that is not, and a more complex
candidate ships only when it is better beyond the tie and the bootstrap's noise."""

from __future__ import annotations

import numpy as np
import pytest

from soulsync.inference.figures import Estimate
from soulsync.inference.probability_map import sigmoid
from soulsync.inference.selection import Stress
from soulsync.questionnaire import PROFESSIONAL, STUDENT

pytest.importorskip("tensorflow", reason="the training recipe needs the 'train' extra")

from soulsync.training.stages import select
from soulsync.training.stress import StressRun, family, stress_test


def survey(seed: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores whose outcome depends on them twice as steeply for students as for professionals."""
    rng = np.random.default_rng(seed)
    groups = np.repeat([STUDENT, PROFESSIONAL], 1500)
    score = rng.normal(0, 1.5, len(groups))
    steepness = np.where(groups == STUDENT, 2.0, 1.0)
    labels = (rng.random(len(groups)) < sigmoid(steepness * score - 1)).astype(int)
    return labels, groups, score


def test_the_family_spans_the_two_groups() -> None:
    found = family({"students": 2.0, "professionals": 0.8})
    assert found.steepness == {"students": (0.4, 1.0), "professionals": (1.0, 2.5)}
    assert 1.0 in found.odds_ratios


def test_a_fit_to_the_steeper_survey_loses_where_the_population_is_shallower() -> None:
    labels, groups, score = survey()
    shifts = family({"students": 2.0, "professionals": 1.0})
    own = sigmoid(np.where(groups == STUDENT, 2.0, 1.0) * score - 1)  # the survey's own fit
    shared = sigmoid(1.3 * score - 1)  # one slope between the two
    fitted, between = (stress_test(labels, p, groups, shifts, 1) for p in (own, shared))
    students = fitted.stress.groups["students"], between.stress.groups["students"]
    # On the survey itself the own fit is the better calibrated ...
    assert students[0].calibration_loss < students[1].calibration_loss
    # ... but at its worst, where students are as shallow as professionals, it is the worse.
    assert students[0].worst_at.steepness == pytest.approx(0.5)
    assert students[0].worst_calibration_loss > students[1].worst_calibration_loss
    assert between.stress.criterion.value < fitted.stress.criterion.value


def run(value: float, resampled: list[float]) -> StressRun:
    stress = Stress(groups={}, criterion=Estimate(value, min(resampled), max(resampled)))
    return StressRun(stress=stress, resampled=np.array(resampled))


def test_a_later_candidate_must_beat_the_tie_and_the_noise() -> None:
    simple = run(0.300, [0.30] * 100)
    assert select([simple, run(0.299, [0.29] * 100)]) == 0  # within the tie
    noisy = [0.28] * 90 + [0.31] * 10  # better in 90 % of the resamples only
    assert select([simple, run(0.290, noisy)]) == 0
    assert select([simple, run(0.290, [0.28] * 96 + [0.31] * 4)]) == 1
    # Each later candidate is compared with the choice so far.
    assert select([simple, run(0.290, [0.28] * 100), run(0.289, [0.27] * 100)]) == 1

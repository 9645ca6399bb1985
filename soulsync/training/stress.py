"""The stress test: how a candidate's probabilities hold up when the population moves.

No cross-validation on the survey can tell which population the app's users resemble. What the
survey does show is how far two populations answering the same questions can differ: its
students' outcome depends on the answers far more steeply than its professionals' (each group's
calibration slope on the shared score of the `linear` candidate; the card records both).
So the family of shifted populations is built from that: for each group, populations whose
outcome depends on the answers anywhere from as steeply as in the survey to as steeply as in
the other group, each with the group's base rate, half its odds or twice them.

A candidate's log loss on a population splits in two: what its ranking allows (the log loss of
its score re-fitted to that population's outcomes: the refinement) and what its miscalibration
costs on top (the calibration loss). Each shifted population is defined through the candidate's
own score: its out-of-fold logit re-fitted to the group's survey outcomes (what the survey says
that score means), made steeper or shallower by the factor and moved to the base rate. Both
parts are expectations computed exactly from those probabilities, row by row (no outcome is
drawn). The criterion of a group is the refinement on the survey plus the calibration loss at its
worst over the family; the candidate's criterion is the mean over the two groups (the app's mix
of students and workers is unknown, so neither group's size in the survey weighs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from soulsync.analysis import evaluation, logistic
from soulsync.inference.figures import Estimate
from soulsync.inference.probability_map import logit, sigmoid
from soulsync.inference.selection import GroupStress, Stress, StressFamily, StressPoint
from soulsync.questionnaire import GROUPS
from soulsync.training.recipe import STRESS_ODDS_RATIOS, STRESS_STEEPNESS_POINTS

FAMILY = (
    "for each group, populations with the same answers whose outcome depends on them from as "
    "steeply as in the survey's group to as steeply as in the survey's other group (each "
    "group's calibration slope on the shared score of `linear`, out of fold), with the group's "
    "base rate, half its odds or twice them; on each, the expected log loss a candidate's "
    "miscalibration costs, computed from its out-of-fold probabilities"
)


def shared_score_slopes(labels: np.ndarray, groups: np.ndarray, shared: np.ndarray) -> dict:
    """Each group's calibration slope on the out-of-fold probabilities of the shared score."""
    slopes = {}
    for code, name in GROUPS.items():
        rows = groups == code
        line = logistic.calibration_line(labels[rows], shared[rows])
        if line is None:
            raise ValueError(f"{name}: one class only, no calibration slope")
        slopes[name] = line[1]
    return slopes


def family(slopes: Mapping[str, float]) -> StressFamily:
    """Each group's range of steepness: from its own (1) to the other group's."""
    ranges = {}
    for name, own in slopes.items():
        (other,) = (slope for group, slope in slopes.items() if group != name)
        ratio = other / own
        ranges[name] = (min(1.0, ratio), max(1.0, ratio))
    return StressFamily(
        description=FAMILY,
        steepness=ranges,
        steepness_points=STRESS_STEEPNESS_POINTS,
        odds_ratios=list(STRESS_ODDS_RATIOS),
        shared_score_slopes=dict(slopes),
    )


def points(stress_family: StressFamily, group: str) -> list[StressPoint]:
    low, high = stress_family.steepness[group]
    return [
        StressPoint(steepness=float(steepness), odds_ratio=odds)
        for steepness in np.linspace(low, high, stress_family.steepness_points)
        for odds in stress_family.odds_ratios
    ]


def expected_losses(
    labels: np.ndarray, probabilities: np.ndarray, shifts: list[StressPoint]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, shifts) twice: each row's expected calibration loss under each shifted population
    (the candidate's expected log loss minus that of the population's own probabilities), and
    the expected log loss of the population's own probabilities (what a calibrated score would
    get)."""
    scored = logit(probabilities)
    intercept, slope = logistic.logistic_fit(scored, labels)
    survey = intercept[0] + slope[0] * scored  # what the survey says this score means
    rate = float(labels.mean())
    steepness = np.array([shift.steepness for shift in shifts])[:, None]
    rates = sigmoid(logit(np.array([rate])) + np.log([shift.odds_ratio for shift in shifts]))
    moved = steepness * survey[None, :]
    truth = sigmoid(logistic.intercept_for_rate(moved, rates)[:, None] + moved)
    return (_log_loss(truth, probabilities) - _log_loss(truth, truth)).T, _log_loss(truth, truth).T


def _log_loss(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The expected log loss of `predicted` when the outcome is 1 with probability `truth`."""
    p = np.clip(predicted, 1e-15, 1 - 1e-15)
    return -(truth * np.log(p) + (1 - truth) * np.log1p(-p))


@dataclass(frozen=True)
class StressRun:
    """A candidate's stress figures for the card, and the criterion of every bootstrap resample
    (the same resamples for every candidate, so that two can be compared pair by pair)."""

    stress: Stress
    resampled: np.ndarray


def stress_test(
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray,
    stress_family: StressFamily,
    seed: int,
) -> StressRun:
    by_group, criteria, resampled = {}, [], []
    for code, name in GROUPS.items():
        rows = groups == code
        shifts = points(stress_family, name)
        calibration, refinement = expected_losses(labels[rows], probabilities[rows], shifts)
        survey = next(i for i, s in enumerate(shifts) if s.steepness == 1.0 and s.odds_ratio == 1.0)
        losses = calibration.mean(axis=0)
        worst = int(losses.argmax())
        found = GroupStress(
            refinement=float(refinement[:, survey].mean()),
            calibration_loss=float(losses[survey]),
            worst_calibration_loss=float(losses[worst]),
            worst_at=shifts[worst],
        )
        by_group[name] = found
        criteria.append(found.refinement + found.worst_calibration_loss)
        # The same seed for a group whatever the candidate: paired resamples.
        count = int(rows.sum())
        resampled.append(
            np.concatenate(
                [
                    weights @ refinement[:, survey] / count
                    + (weights @ calibration / count).max(axis=1)
                    for weights in evaluation.resample_weights(count, seed + code)
                ]
            )
        )
    criterion = np.mean(resampled, axis=0)
    low, high = np.percentile(criterion, [2.5, 97.5])
    return StressRun(
        stress=Stress(
            groups=by_group, criterion=Estimate(float(np.mean(criteria)), float(low), float(high))
        ),
        resampled=criterion,
    )

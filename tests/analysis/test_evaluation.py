"""The figures of predictions that the card, the monitor and recalibration share: the logistic
fit behind the calibration slope and intercept agrees with scikit-learn's, reads calibrated,
over- and under-confident probabilities as such, and its bootstrap intervals hold the value."""

from __future__ import annotations

import numpy as np
import pytest

from soulsync.analysis import evaluation, logistic
from soulsync.inference.probability_map import logit, sigmoid

pytest.importorskip("sklearn", reason="the figures need the 'monitor' or 'train' extra")


def population(rows: int, truth_slope: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(outcomes, probabilities of a model whose logit is the truth's divided by truth_slope)."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(-0.5, 2.0, rows)
    outcomes = (rng.random(rows) < sigmoid(truth)).astype(int)
    return outcomes, sigmoid(truth / truth_slope)


def test_the_fit_is_scikit_learns_maximum_likelihood() -> None:
    from sklearn.linear_model import LogisticRegression

    labels, probabilities = population(3000, 1.3)
    x = logit(probabilities)
    intercept, slope = logistic.logistic_fit(x, labels)
    reference = LogisticRegression(C=1e9, tol=1e-10, max_iter=1000).fit(x[:, None], labels)
    assert intercept[0] == pytest.approx(reference.intercept_[0], abs=1e-4)
    assert slope[0] == pytest.approx(reference.coef_[0, 0], abs=1e-4)


@pytest.mark.parametrize(
    ("truth_slope", "reading"), [(1.0, "calibrated"), (0.5, "over"), (2.0, "under")]
)
def test_the_slope_reads_calibration(truth_slope: float, reading: str) -> None:
    labels, probabilities = population(20000, truth_slope)
    intercept, slope = logistic.calibration_line(labels, probabilities)
    # The model's logit is the truth's / truth_slope: the slope that recovers it is truth_slope.
    assert slope == pytest.approx(truth_slope, rel=0.06)
    # Over-confident (the model's logit twice as steep as the truth's) reads below 1.
    assert {"calibrated": abs(slope - 1) < 0.06, "over": slope < 0.6, "under": slope > 1.8}[reading]
    assert abs(intercept) < 0.1


def test_one_class_has_no_line() -> None:
    assert logistic.calibration_line(np.zeros(10, int), np.full(10, 0.2)) is None
    assert evaluation.scores(np.zeros(10, int), np.full(10, 0.2)).calibration_slope is None


def test_weighted_fits_are_fits_of_the_repeated_rows() -> None:
    labels, probabilities = population(400, 1.0, seed=5)
    x = logit(probabilities)
    counts = np.random.default_rng(1).integers(0, 3, len(x))
    intercept, slope = logistic.logistic_fit(x, labels, counts[None, :])
    again = logistic.logistic_fit(np.repeat(x, counts), np.repeat(labels, counts))
    assert (intercept[0], slope[0]) == pytest.approx((again[0][0], again[1][0]), abs=1e-8)


def test_perfectly_separated_rows_give_a_finite_fit() -> None:
    labels = np.array([0] * 30 + [1] * 30)
    probabilities = np.concatenate([np.full(30, 0.2), np.full(30, 0.8)])
    intercept, slope = logistic.logistic_fit(logit(probabilities), labels)
    assert np.isfinite(intercept[0]) and np.isfinite(slope[0]) and slope[0] > 1


def test_intervals_hold_the_value_and_narrow_with_rows() -> None:
    """And the ECE of a calibrated model is small, its interval near 0."""
    small = evaluation.probability_figures(*population(200, 1.0), seed=1)
    large = evaluation.probability_figures(*population(5000, 1.0), seed=1)
    for figures in (small, large):
        for estimate in (
            figures.log_loss,
            figures.calibration_slope,
            figures.calibration_intercept,
        ):
            assert estimate.low <= estimate.value <= estimate.high
        # The ECE's interval is reflected (evaluation._reflected_interval): it corrects for the
        # inflation of a resampled ECE, and of the value itself, so it may lie below the value.
        assert 0 <= figures.ece.low <= figures.ece.high
    small_slope, large_slope = small.calibration_slope, large.calibration_slope
    assert large_slope.high - large_slope.low < (small_slope.high - small_slope.low) / 2
    assert large.calibration_slope.low <= 1.0 <= large.calibration_slope.high


def test_the_intercept_for_a_rate() -> None:
    offsets = np.random.default_rng(2).normal(0, 3, 1000)
    for rate in (0.01, 0.3, 0.9):
        intercept = logistic.intercept_for_rate(offsets, rate)
        assert sigmoid(intercept + offsets).mean() == pytest.approx(rate, abs=1e-9)

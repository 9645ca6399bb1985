"""Logistic fits of an outcome on a score, as a few array operations: the calibration line
(intercept and slope of the outcome on a model's logit), the intercept that matches a rate, and
the one-step approximation the bootstrap uses for large exports. Written here rather than taken
from scikit-learn because a thousand bootstrap fits must run as array operations, not a thousand
estimator calls."""

from __future__ import annotations

import numpy as np

from soulsync.inference.probability_map import logit, sigmoid

#: The logistic fits are pulled toward the identity map (intercept 0, slope 1) by this much
#: (an L2 penalty): nothing for a few dozen rows, but it keeps the fit finite when the rows are
#: perfectly separated.
FIT_PENALTY = 1e-3


def _logistic_terms(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sigmoid(eta) and log(1 + exp(eta)), from one exponential, without overflow."""
    small = np.exp(-np.abs(eta))
    probability = np.where(eta >= 0, 1.0, small) / (1.0 + small)
    return probability, np.maximum(eta, 0.0) + np.log1p(small)


def logistic_fit(
    x: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    start: tuple[float, float] = (0.0, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood intercept and slope of `labels ~ sigmoid(intercept + slope * x)`,
    once for each row of `weights` (resamples x rows: how often each row counts) at once;
    without weights, one fit of every row (arrays of one).

    Newton's method from `start` (the identity map by default, where a calibrated model
    converges in a step or two; a bootstrap starts from the fit of all rows), each step halved
    until the likelihood does not fall.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones((1, len(x))) if weights is None else np.asarray(weights, dtype=np.float64)
    intercept, slope = np.full(len(w), float(start[0])), np.full(len(w), float(start[1]))

    def evaluate(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The penalised log-likelihood of each fit, and the probabilities it gives."""
        eta = a[:, None] + b[:, None] * x
        p, softplus = _logistic_terms(eta)
        fit = (w * (y * eta - softplus)).sum(axis=1)
        return fit - FIT_PENALTY / 2 * (a * a + (b - 1.0) ** 2), p

    current, p = evaluate(intercept, slope)
    for _ in range(100):
        residual = w * (y - p)
        curvature = w * p * (1.0 - p)
        g0 = residual.sum(axis=1) - FIT_PENALTY * intercept
        g1 = residual @ x - FIT_PENALTY * (slope - 1.0)
        h00 = curvature.sum(axis=1) + FIT_PENALTY
        h01 = curvature @ x
        h11 = curvature @ (x * x) + FIT_PENALTY
        determinant = h00 * h11 - h01 * h01
        step0 = (h11 * g0 - h01 * g1) / determinant
        step1 = (h00 * g1 - h01 * g0) / determinant
        size = np.ones(len(w))
        for _ in range(60):
            trial, p = evaluate(intercept + size * step0, slope + size * step1)
            worse = trial < current - 1e-12 * np.abs(current)
            if not worse.any():
                break
            size[worse] /= 2
        intercept, slope, current = intercept + size * step0, slope + size * step1, trial
        if max(np.abs(size * step0).max(), np.abs(size * step1).max()) < 1e-9:
            break
    return intercept, slope


def intercept_for_rate(offsets: np.ndarray, rate: float | np.ndarray) -> float | np.ndarray:
    """The intercept a with mean(sigmoid(a + offsets)) == rate: the maximum-likelihood
    intercept of a logistic model whose other terms are fixed (`offsets`). Given one rate per
    row of a 2-d `offsets`, one intercept each."""
    offsets = np.atleast_2d(np.asarray(offsets, dtype=np.float64))
    target = np.broadcast_to(np.asarray(rate, dtype=np.float64), (len(offsets),))
    intercept = logit(target) - offsets.mean(axis=1)
    for _ in range(100):
        p = sigmoid(intercept[:, None] + offsets)
        step = (p.mean(axis=1) - target) / np.maximum((p * (1 - p)).mean(axis=1), 1e-12)
        step = np.clip(step, -5.0, 5.0)  # a far start must not overshoot into a flat tail
        intercept = intercept - step
        if np.abs(step).max() < 1e-12:
            break
    return float(intercept[0]) if np.ndim(rate) == 0 else intercept


def calibration_line(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float] | None:
    """(intercept, slope) of the outcome on the model's logit; None for one class only."""
    if not 0 < labels.sum() < len(labels):
        return None
    intercept, slope = logistic_fit(logit(probabilities), labels)
    return float(intercept[0]), float(slope[0])


def one_newton_step(
    x: np.ndarray, labels: np.ndarray, weights: np.ndarray, start: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Each weighted fit approximated by one Newton step from `start` (the fit of all rows):
    the probabilities are those of `start` for every resample, so the step needs only
    weighted sums."""
    p = sigmoid(start[0] + start[1] * x)
    residual, curvature = labels - p, p * (1.0 - p)
    sums = weights @ np.stack(
        [residual, residual * x, curvature, curvature * x, curvature * x * x], axis=1
    )
    g0, g1, h00, h01, h11 = sums.T
    determinant = h00 * h11 - h01 * h01
    return (
        start[0] + (h11 * g0 - h01 * g1) / determinant,
        start[1] + (h00 * g1 - h01 * g0) / determinant,
    )

"""Figures of a set of predictions against outcomes, the screening rule that picks a threshold,
and bootstrap intervals: what the model card reports, what `soulsync monitor` measures on
exports with outcomes and what `soulsync recalibrate` fits and reports. Needs scikit-learn (the
train and monitor extras), never TensorFlow.

Calibration is read as the issue of the figures defines it: a logistic fit of the outcome on the
model's logit gives a slope and an intercept (1 and 0 for calibrated probabilities; a slope
below 1 means over-confident, above 1 under-confident)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
from sklearn import metrics

from soulsync.inference import decision
from soulsync.inference.decision import DecisionRule
from soulsync.inference.figures import (
    Confusion,
    Decisions,
    Estimate,
    Evaluation,
    GroupedEvaluation,
    ProbabilityFigures,
    Scores,
    Spread,
)
from soulsync.inference.probability_map import logit, sigmoid
from soulsync.questionnaire import GROUPS

#: The screening rule: missing a person at risk costs more than a false alarm, so each group's
#: threshold is the highest one that still finds at least this share of that group's
#: positives (the highest such threshold keeps false alarms as few as that recall allows).
TARGET_RECALL = 0.90
THRESHOLD_RULE = (
    f"each group's threshold is the highest one whose recall within that group is at least "
    f"{TARGET_RECALL:.2f}, on the out-of-fold predictions of the cross-validation over the "
    "whole development part; fixed before any result was seen"
)
CALIBRATION_BINS = 10
BOOTSTRAP_RESAMPLES = 1000
#: A calibration fit (intercept and slope) needs at least this many rows of each outcome in a
#: group: ten of each per parameter fitted, and then the recall rule's threshold rests on the
#: eighteenth-highest positive or lower, never on one or two people.
CALIBRATION_MINIMUM = 20
#: The logistic fits are pulled toward the identity map (intercept 0, slope 1) by this much
#: (an L2 penalty): nothing for a few dozen rows, but it keeps the fit finite when the rows are
#: perfectly separated.
FIT_PENALTY = 1e-3
#: Up to this many rows, each bootstrap resample's calibration line is fitted to convergence;
#: beyond it, it is one Newton step from the line of all rows (the one-step bootstrap): its
#: error shrinks with the rows faster than the interval's width does, and it costs a few
#: weighted sums instead of a fit per resample (docs/monitoring.md times 100,000 rows).
EXACT_BOOTSTRAP_ROWS = 5000
#: Bootstrap resamples are weighted in blocks of at most this many cells (resamples x rows), so
#: that 100,000 rows need no more than a few tens of MB at a time.
BLOCK_CELLS = 2_000_000


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The highest threshold reaching TARGET_RECALL on these rows."""
    positives = probabilities[labels == 1]
    if len(positives) == 0:
        raise ValueError("no positive rows to choose a threshold on")
    needed = int(np.ceil(TARGET_RECALL * len(positives)))
    # Predicting positive at p >= t finds every positive scored at least t: t is the
    # needed-th highest positive (a partial sort finds it).
    rank = len(positives) - needed
    return float(np.partition(positives, rank)[rank])


def threshold_interval(
    labels: np.ndarray, probabilities: np.ndarray, seed: int
) -> tuple[float, float]:
    """95 % bootstrap interval of choose_threshold over resampled rows."""
    rng = np.random.default_rng(seed)
    thresholds = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].any():
            thresholds.append(choose_threshold(labels[rows], probabilities[rows]))
    low, high = np.percentile(thresholds, [2.5, 97.5])
    return float(low), float(high)


def calibration_bins(
    labels: np.ndarray, probabilities: np.ndarray
) -> list[tuple[float, float, int]]:
    """(mean predicted, observed rate, rows) of each non-empty equal-width probability bin."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    found = []
    for b in range(CALIBRATION_BINS):
        in_bin = which == b
        if in_bin.any():
            found.append(
                (
                    float(probabilities[in_bin].mean()),
                    float(labels[in_bin].mean()),
                    int(in_bin.sum()),
                )
            )
    return found


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean gap between predicted and observed rates over equal-width bins, weighted by size."""
    rows = len(labels)
    return float(
        sum(
            n / rows * abs(predicted - observed)
            for predicted, observed, n in calibration_bins(labels, probabilities)
        )
    )


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
    until the likelihood does not fall. Written here rather than taken from scikit-learn
    because a thousand bootstrap fits must run as a few array operations, not a thousand
    estimator calls.
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


def scores(labels: np.ndarray, probabilities: np.ndarray) -> Scores:
    """The figures that need no threshold."""
    both_classes = 0 < labels.sum() < len(labels)
    line = calibration_line(labels, probabilities)
    return Scores(
        roc_auc=float(metrics.roc_auc_score(labels, probabilities)) if both_classes else None,
        log_loss=float(metrics.log_loss(labels, probabilities, labels=[0, 1])),
        brier=float(metrics.brier_score_loss(labels, probabilities)),
        ece=expected_calibration_error(labels, probabilities),
        calibration_intercept=line[0] if line else None,
        calibration_slope=line[1] if line else None,
    )


def _one_newton_step(
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


def resample_weights(rows: int, seed: int) -> Iterator[np.ndarray]:
    """BOOTSTRAP_RESAMPLES bootstrap resamples of `rows` rows, in blocks: each block is
    (resamples, rows), how many times each row was drawn."""
    rng = np.random.default_rng(seed)
    per_block = max(1, min(BOOTSTRAP_RESAMPLES, BLOCK_CELLS // max(rows, 1)))
    done = 0
    while done < BOOTSTRAP_RESAMPLES:
        count = min(per_block, BOOTSTRAP_RESAMPLES - done)
        drawn = rng.integers(0, rows, (count, rows), dtype=np.int32)
        yield np.stack([np.bincount(resample, minlength=rows) for resample in drawn])
        done += count


def _interval(values: np.ndarray, value: float) -> Estimate:
    """The 95 % percentile interval of the resampled values."""
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(value=value, low=float(low), high=float(high))


def _reflected_interval(values: np.ndarray, value: float) -> Estimate:
    """The 95 % basic ("reflected") bootstrap interval, kept at 0 or above, for the ECE. Sampling
    noise in each bin inflates an ECE, the more so the fewer the rows, and resampling inflates
    it again: the reflected interval undoes that second inflation, so it can lie below the
    value itself (the value is inflated too), where a percentile interval would lie above it."""
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(
        value=value, low=max(0.0, 2 * value - float(high)), high=max(0.0, 2 * value - float(low))
    )


def probability_figures(
    labels: np.ndarray, probabilities: np.ndarray, seed: int
) -> ProbabilityFigures:
    """Log loss, ECE and the calibration slope and intercept of a set of predictions, each with
    its 95 % bootstrap interval (rows resampled with replacement, BOOTSTRAP_RESAMPLES times;
    percentile intervals, the ECE's reflected)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    rows = len(y)
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    losses = -(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))
    which = np.clip(np.digitize(p, np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)[1:-1]), 0, None)
    in_bin = np.eye(CALIBRATION_BINS)[which]  # (rows, bins)
    gaps = in_bin * (p - y)[:, None]
    line = calibration_line(labels, probabilities)
    x = logit(p)
    log_losses, eces, intercepts, slopes = [], [], [], []
    for weights in resample_weights(rows, seed):
        log_losses.append(weights @ losses / rows)
        eces.append(np.abs(weights @ gaps).sum(axis=1) / rows)
        if line is not None:
            # A resample with one class only has no line; it is left out.
            positives = weights @ y
            both = (positives > 0) & (positives < rows)
            if rows <= EXACT_BOOTSTRAP_ROWS:
                intercept, slope = logistic_fit(x, y, weights[both], start=line)
            else:
                intercept, slope = _one_newton_step(x, y, weights[both], line)
            intercepts.append(intercept)
            slopes.append(slope)
    return ProbabilityFigures(
        rows=rows,
        positives=int(y.sum()),
        log_loss=_interval(np.concatenate(log_losses), float(losses.mean())),
        ece=_reflected_interval(
            np.concatenate(eces), expected_calibration_error(labels, probabilities)
        ),
        calibration_intercept=_interval(np.concatenate(intercepts), line[0]) if line else None,
        calibration_slope=_interval(np.concatenate(slopes), line[1]) if line else None,
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def decisions(labels: np.ndarray, flagged: np.ndarray) -> Decisions:
    """The figures of yes/no decisions (`flagged` is True where the result is Depression)."""
    tn, fp, fn, tp = metrics.confusion_matrix(labels, flagged, labels=[0, 1]).ravel().tolist()
    return Decisions(
        recall=_share(tp, tp + fn),
        specificity=_share(tn, tn + fp),
        precision=_share(tp, tp + fp),
        npv=_share(tn, tn + fn),
        flagged=float(flagged.mean()),
        accuracy=(tp + tn) / len(labels),
        confusion=Confusion(tn=tn, fp=fp, fn=fn, tp=tp),
    )


def evaluate(labels: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray) -> Evaluation:
    """Every figure of a set of predictions and of the decisions made on them."""
    return Evaluation(
        rows=len(labels),
        positives=int(labels.sum()),
        scores=scores(labels, probabilities),
        decisions=decisions(labels, flagged),
    )


def grouped_evaluation(
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray,
    rules: Mapping[str, DecisionRule],
) -> GroupedEvaluation:
    """Every figure, for all rows and for each group's rows, under the groups' rules."""
    flagged = decision.flag(probabilities, groups, rules)
    by_group = {}
    for code, name in GROUPS.items():
        rows = groups == code
        by_group[name] = evaluate(labels[rows], probabilities[rows], flagged[rows])
    return GroupedEvaluation(all=evaluate(labels, probabilities, flagged), by_group=by_group)


def spread(values: list[float]) -> Spread:
    array = np.asarray(values, dtype=float)
    return Spread(mean=float(array.mean()), std=float(array.std(ddof=1)))


def fold_spreads(folds: list[Scores]) -> dict[str, Spread]:
    """Mean and standard deviation of each threshold-free figure across folds."""
    return {
        name: spread([getattr(fold, name) for fold in folds])
        for name in ("log_loss", "roc_auc", "brier", "ece")
    }

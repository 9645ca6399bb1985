"""Figures of a set of predictions against outcomes, and their bootstrap intervals: what the
model card reports, what `soulsync monitor` measures on exports with outcomes and what `soulsync
recalibrate` fits and reports. Needs scikit-learn (the train and monitor extras), never
TensorFlow.

Calibration is read through a logistic fit of the outcome on the model's logit
(analysis/logistic.py): a slope and an intercept, 1 and 0 for calibrated probabilities; a slope
below 1 means over-confident, above 1 under-confident."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
from sklearn import metrics

from soulsync.analysis.logistic import calibration_line, logistic_fit, one_newton_step
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
from soulsync.inference.probability_map import logit
from soulsync.questionnaire import GROUPS

CALIBRATION_BINS = 10
BOOTSTRAP_RESAMPLES = 1000
#: A calibration fit (intercept and slope) needs at least this many rows of each outcome in a
#: group: ten of each per parameter fitted, and then the recall rule's threshold rests on the
#: eighteenth-highest positive or lower, never on one or two people.
CALIBRATION_MINIMUM = 20
#: Up to this many rows, each bootstrap resample's calibration line is fitted to convergence;
#: beyond it, it is one Newton step from the line of all rows (the one-step bootstrap): its
#: error shrinks with the rows faster than the interval's width does, and it costs a few
#: weighted sums instead of a fit per resample (docs/monitoring.md times 100,000 rows).
EXACT_BOOTSTRAP_ROWS = 5000
#: Bootstrap resamples are weighted in blocks of at most this many cells (resamples x rows), so
#: that 100,000 rows need no more than a few tens of MB at a time.
BLOCK_CELLS = 2_000_000


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
                intercept, slope = one_newton_step(x, y, weights[both], line)
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

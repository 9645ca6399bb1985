"""Figures of a set of predictions against outcomes, the screening rule that picks a threshold,
and its bootstrap interval: what the model card reports, and what `soulsync monitor` measures
on exports with outcomes. Needs scikit-learn (the train and monitor extras), never TensorFlow."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn import metrics

from soulsync.inference import decision
from soulsync.inference.card import (
    Confusion,
    Decisions,
    Evaluation,
    GroupedEvaluation,
    Scores,
    Spread,
)
from soulsync.inference.decision import DecisionRule
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


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The highest threshold reaching TARGET_RECALL on these rows."""
    positives = np.sort(probabilities[labels == 1])[::-1]
    if len(positives) == 0:
        raise ValueError("no positive rows to choose a threshold on")
    needed = int(np.ceil(TARGET_RECALL * len(positives)))
    # Predicting positive at p >= t finds every positive scored at least t.
    return float(positives[needed - 1])


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


def scores(labels: np.ndarray, probabilities: np.ndarray) -> Scores:
    """The figures that need no threshold."""
    both_classes = 0 < labels.sum() < len(labels)
    return Scores(
        roc_auc=float(metrics.roc_auc_score(labels, probabilities)) if both_classes else None,
        log_loss=float(metrics.log_loss(labels, probabilities, labels=[0, 1])),
        brier=float(metrics.brier_score_loss(labels, probabilities)),
        ece=expected_calibration_error(labels, probabilities),
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


def evaluation(labels: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray) -> Evaluation:
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
        by_group[name] = evaluation(labels[rows], probabilities[rows], flagged[rows])
    return GroupedEvaluation(all=evaluation(labels, probabilities, flagged), by_group=by_group)


def spread(values: list[float]) -> Spread:
    array = np.asarray(values, dtype=float)
    return Spread(mean=float(array.mean()), std=float(array.std(ddof=1)))


def fold_spreads(folds: list[Scores]) -> dict[str, Spread]:
    """Mean and standard deviation of each threshold-free figure across folds."""
    return {
        name: spread([getattr(fold, name) for fold in folds])
        for name in ("log_loss", "roc_auc", "brier", "ece")
    }

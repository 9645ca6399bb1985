"""Metrics, the threshold rule and their summaries across folds."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

#: The screening rule: missing a person at risk costs more than a false alarm, so the threshold
#: is the highest one that still finds at least this share of the positives on the validation
#: split (the highest such threshold keeps false alarms as few as that recall allows).
TARGET_RECALL = 0.90
THRESHOLD_RULE = (
    f"the highest threshold whose recall on the validation split is at least {TARGET_RECALL:.2f}"
)
CALIBRATION_BINS = 10


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Apply THRESHOLD_RULE: the largest threshold reaching TARGET_RECALL."""
    positives = np.sort(probabilities[labels == 1])[::-1]
    if len(positives) == 0:
        raise ValueError("the validation split has no positive rows")
    needed = int(np.ceil(TARGET_RECALL * len(positives)))
    # Predicting positive at p >= t finds every positive scored at least t.
    return float(positives[needed - 1])


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Mean gap between predicted and observed rates over equal-width bins, weighted by size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            gap = abs(probabilities[in_bin].mean() - labels[in_bin].mean())
            error += in_bin.mean() * gap
    return float(error)


def threshold_free(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The figures that do not depend on a threshold."""
    return {
        "roc_auc": float(metrics.roc_auc_score(labels, probabilities)),
        "brier": float(metrics.brier_score_loss(labels, probabilities)),
        "ece": expected_calibration_error(labels, probabilities),
    }


def at_threshold(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float
) -> dict[str, object]:
    """The figures of the yes/no decision `probability >= threshold`."""
    predicted = (probabilities >= threshold).astype(int)
    tn, fp, fn, tp = metrics.confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": float(metrics.precision_score(labels, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(labels, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(labels, predicted, zero_division=0)),
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def evaluate(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, object]:
    """Every figure the card reports for one set of predictions."""
    figures: dict[str, object] = {
        "rows": len(labels),
        "positives": int(labels.sum()),
    }
    if 0 < labels.sum() < len(labels):
        figures.update(threshold_free(labels, probabilities))
    figures.update(at_threshold(labels, probabilities, threshold))
    return figures


def summarize(folds: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of each scalar figure across folds."""
    names = [name for name, value in folds[0].items() if isinstance(value, float)]
    summary = {}
    for name in names:
        values = np.array([fold[name] for fold in folds], dtype=float)
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1))}
    return summary

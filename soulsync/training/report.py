"""The picture a person looks at: ROC curves and a reliability diagram of the test split."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; there is no screen on a build machine

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from soulsync.training.evaluate import CALIBRATION_BINS


def write_report(
    path: Path,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    threshold: float,
    title: str,
) -> None:
    """Save a two-panel PNG: ROC per group, and predicted vs observed rate (overall)."""
    figure, (roc_axes, calibration_axes) = plt.subplots(1, 2, figsize=(11, 5), dpi=100)

    for name, (labels, probabilities) in curves.items():
        if 0 < labels.sum() < len(labels):
            fpr, tpr, _ = roc_curve(labels, probabilities)
            auc = roc_auc_score(labels, probabilities)
            roc_axes.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f}, n={len(labels)})")
    roc_axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    roc_axes.set(
        xlabel="false positive rate",
        ylabel="true positive rate (recall)",
        title="ROC curve, test split",
    )
    roc_axes.legend(loc="lower right", fontsize=8)

    labels, probabilities = curves["all"]
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    predicted, observed, counts = [], [], []
    for b in range(CALIBRATION_BINS):
        in_bin = which == b
        if in_bin.any():
            predicted.append(probabilities[in_bin].mean())
            observed.append(labels[in_bin].mean())
            counts.append(int(in_bin.sum()))
    calibration_axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    calibration_axes.plot(predicted, observed, marker="o", label="model")
    for x, y, n in zip(predicted, observed, counts, strict=True):
        calibration_axes.annotate(
            str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7
        )
    calibration_axes.axvline(
        threshold, color="red", linestyle="--", label=f"threshold {threshold:.3f}"
    )
    calibration_axes.set(
        xlabel="mean predicted probability",
        ylabel="observed rate",
        title="Reliability diagram, test split (rows per bin)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    calibration_axes.legend(loc="upper left", fontsize=8)

    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)

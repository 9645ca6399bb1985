"""The picture a person looks at: each group's ROC curve and reliability diagram on the test
split, with each group's threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from soulsync.analysis.charts import plt, reliability_axes, reliability_curve
from soulsync.inference.card import ModelCard
from soulsync.questionnaire import GROUPS


def write_report(
    path: Path,
    card: ModelCard,
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray,
) -> None:
    """Save a two-panel PNG: ROC per group, and predicted against observed rate per group."""
    figure, (roc_axes, calibration_axes) = plt.subplots(1, 2, figsize=(11, 5), dpi=100)
    calibration_axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    roc_axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    for (code, name), color in zip(GROUPS.items(), ("tab:blue", "tab:orange"), strict=True):
        rows = groups == code
        y, p = labels[rows], probabilities[rows]
        figures = card.test.by_group[name]
        threshold = card.decision.groups[name].threshold
        if figures.scores.roc_auc is not None:
            fpr, tpr, _ = roc_curve(y, p)
            roc_axes.plot(fpr, tpr, color=color, label=f"{name} (AUC {figures.scores.roc_auc:.3f})")
            decisions = figures.decisions
            roc_axes.plot([1 - decisions.specificity], [decisions.recall], marker="o", color=color)
        label = f"{name} (ECE {figures.scores.ece:.3f})"
        reliability_curve(calibration_axes, y, p, label, color)
        calibration_axes.axvline(
            threshold, color=color, linestyle="--", label=f"{name} threshold {threshold:.3f}"
        )
    roc_axes.set(
        xlabel="false positive rate",
        ylabel="true positive rate (recall)",
        title="ROC curve, test split (dot: the group's threshold)",
    )
    roc_axes.legend(loc="lower right", fontsize=8)
    reliability_axes(calibration_axes, "Reliability diagram, test split (rows per bin)")
    figure.suptitle(f"SoulSync depression screening model {card.version} ({card.model.candidate})")
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)

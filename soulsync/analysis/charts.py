"""The charts the offline tools draw into their reports (training's report.png, the monitor's
and the recalibration's pages): pyplot without a screen, and the reliability diagram drawn
the same way in each."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: build machines and scheduled jobs have no screen

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from soulsync.analysis.evaluation import calibration_bins

__all__ = ["plt", "reliability_axes", "reliability_curve"]


def reliability_curve(
    axes: Axes,
    labels: np.ndarray,
    probabilities: np.ndarray,
    label: str,
    color: str | None = None,
    counts: bool = True,
) -> None:
    """One model's reliability curve on `axes`: each bin's mean probability against its
    observed rate, with the rows in each bin written beside it when `counts`."""
    bins = calibration_bins(labels, probabilities)
    axes.plot([b[0] for b in bins], [b[1] for b in bins], marker="o", color=color, label=label)
    for predicted, observed, count in bins if counts else ():
        axes.annotate(
            str(count),
            (predicted, observed),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=7,
            color=color,
        )


def reliability_axes(axes: Axes, title: str) -> None:
    """The reliability diagram's axes, titled, with its legend."""
    axes.set(
        xlabel="mean predicted probability",
        ylabel="observed rate",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(loc="upper left", fontsize=8)

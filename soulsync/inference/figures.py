"""The figures a model card reports about a set of predictions: threshold-free scores,
estimates with intervals, the decisions at a threshold, and evaluations of all rows and of each
group. Typed once; soulsync/analysis/evaluation.py computes them, the card holds them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation of one figure over the cross-validation folds."""

    mean: float
    std: float


@dataclass(frozen=True)
class Scores:
    """Figures of probabilities that need no threshold. `roc_auc` and the calibration line are
    None for one class only (and the line for cards of format 2)."""

    roc_auc: float | None
    log_loss: float
    brier: float
    ece: float
    #: The logistic fit of the outcome on the model's logit: calibrated is slope 1, intercept 0;
    #: a slope below 1 is over-confident, above 1 under-confident.
    calibration_slope: float | None = None
    calibration_intercept: float | None = None


@dataclass(frozen=True)
class Estimate:
    """A figure and its 95 % bootstrap interval (rows resampled with replacement)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ProbabilityFigures:
    """How good and how calibrated one set of probabilities is, with intervals."""

    rows: int
    positives: int
    log_loss: Estimate
    ece: Estimate
    #: None for one class only.
    calibration_slope: Estimate | None
    calibration_intercept: Estimate | None


@dataclass(frozen=True)
class Confusion:
    tn: int
    fp: int
    fn: int
    tp: int


@dataclass(frozen=True)
class Decisions:
    """Figures of the yes/no decision at a threshold. A share with nothing to divide is None."""

    recall: float | None
    specificity: float | None
    precision: float | None  # positive predictive value
    npv: float | None  # negative predictive value
    flagged: float  # share of rows whose result is Depression
    accuracy: float
    confusion: Confusion


@dataclass(frozen=True)
class Evaluation:
    """Every figure of one set of predictions, at the decision rule."""

    rows: int
    positives: int
    scores: Scores
    decisions: Decisions


@dataclass(frozen=True)
class GroupedEvaluation:
    """One set of predictions: all rows together, and each group's rows alone."""

    all: Evaluation
    by_group: dict[str, Evaluation]

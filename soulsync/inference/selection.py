"""The model card's account of how its model was chosen: each candidate's figures, the stress
test of a population shift every candidate was judged on, and the cross-validation of the
shipped recipe. Part of the card (soulsync/inference/card.py); training fills it in."""

from __future__ import annotations

from dataclasses import dataclass

from soulsync.inference.figures import (
    Estimate,
    Evaluation,
    GroupedEvaluation,
    ProbabilityFigures,
    Scores,
    Spread,
)


@dataclass(frozen=True)
class StressPoint:
    """One shifted population of the stress family: how steeply its outcome depends on the
    answers (a factor on the group's dependence in the survey) and its base rate (a factor on
    the group's odds in the survey)."""

    steepness: float
    odds_ratio: float


@dataclass(frozen=True)
class GroupStress:
    """A candidate on one group's shifted populations: expected log losses per row."""

    #: What its ranking allows: the log loss of its score re-fitted to the survey's outcomes.
    refinement: float
    #: What its miscalibration costs on top, on the survey's own population ...
    calibration_loss: float
    #: ... and at the worst of the stress family, and where that is.
    worst_calibration_loss: float
    worst_at: StressPoint


@dataclass(frozen=True)
class Stress:
    """A candidate under the stress family: each group's figures, and the criterion (the mean
    over the groups of refinement plus worst calibration loss) with its 95 % bootstrap
    interval."""

    groups: dict[str, GroupStress]
    criterion: Estimate


@dataclass(frozen=True)
class CandidateResult:
    name: str
    description: str
    parameters: int
    log_loss: Spread
    roc_auc: Spread
    brier: Spread
    ece: Spread
    folds: list[Scores]
    #: Pooled out-of-fold figures of each group at that candidate's own per-group thresholds.
    by_group: dict[str, Evaluation]
    #: Out of fold over the development part, pooled (`all`) and per group, with intervals.
    #: This and the next two are None in cards of format 2.
    out_of_fold: dict[str, ProbabilityFigures] | None = None
    #: The candidate fitted on the development part, on the test split, likewise.
    test: dict[str, ProbabilityFigures] | None = None
    stress: Stress | None = None


@dataclass(frozen=True)
class StressFamily:
    """The shifted populations every candidate is judged on, built from the survey itself."""

    description: str
    #: Per group, the range of steepness factors (1: as in the survey).
    steepness: dict[str, tuple[float, float]]
    #: How many steepness factors of each range are tried, from one end to the other.
    steepness_points: int
    odds_ratios: list[float]
    #: Each group's calibration slope on the shared score (the `linear` candidate's, out of
    #: fold), from which the ranges follow.
    shared_score_slopes: dict[str, float]


@dataclass(frozen=True)
class Selection:
    rule: str
    chosen: str
    candidates: list[CandidateResult]
    #: Why that candidate, in words, from the figures. This and the next two are None in cards
    #: of format 2.
    reason: str | None = None
    stress_family: StressFamily | None = None
    #: What would change the choice.
    what_would_change: list[str] | None = None


@dataclass(frozen=True)
class CrossValidation:
    folds: int
    rows: int
    #: Pooled out-of-fold predictions of the shipped recipe, at the decision rule.
    out_of_fold: GroupedEvaluation
    #: Fold-by-fold spread of the threshold-free figures.
    spread: dict[str, Spread]

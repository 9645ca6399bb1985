"""Choosing each group's decision rule (the rule itself is soulsync/inference/decision.py), on
out-of-fold predictions: the screening rule that picks its threshold, the threshold's bootstrap
interval, where its higher risk bands start, and what each band held."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from soulsync.analysis import evaluation
from soulsync.inference.card import Band, Decision, GroupDecision
from soulsync.inference.decision import DecisionRule, RiskLevel
from soulsync.questionnaire import GROUP_KEY, GROUPS, QUESTIONS

#: Where `high` and `very_high` start, the same for every group. A band holds the same risk for
#: everyone only where each group's probabilities are calibrated (on the survey they are not for
#: its students: docs/model.md; after `soulsync recalibrate`, on the app's users). Training checks
#: that every group's threshold lies below where `high` starts, so `moderate` is not empty, and
#: that every band can be reached in each group.
BAND_STARTS = (0.65, 0.8)

#: The screening rule: missing a person at risk costs more than a false alarm, so each group's
#: threshold is the highest one that still finds at least this share of that group's
#: positives (the highest such threshold keeps false alarms as few as that recall allows).
TARGET_RECALL = 0.90


THRESHOLD_RULE = (
    f"each group's threshold is the highest one whose recall within that group is at least "
    f"{TARGET_RECALL:.2f}, on the out-of-fold predictions of the cross-validation over the "
    "whole development part; fixed before any result was seen"
)


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
    for _ in range(evaluation.BOOTSTRAP_RESAMPLES):
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].any():
            thresholds.append(choose_threshold(labels[rows], probabilities[rows]))
    low, high = np.percentile(thresholds, [2.5, 97.5])
    return float(low), float(high)


class RuleError(ValueError):
    """A decision rule that would not mean what it must (an empty or unreachable band)."""


def answer_space(group: int) -> np.ndarray:
    """Every questionnaire a person of `group` can send: (rows, 10) wire codes."""
    codes = [(group,) if q.key == GROUP_KEY else q.codes for q in QUESTIONS]
    return np.array(list(itertools.product(*codes)), dtype=np.float32)


def decide(
    labels: np.ndarray,
    out_of_fold: np.ndarray,
    groups: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    seed: int,
) -> Decision:
    """The rule of each group from its out-of-fold predictions; `predict` (the shipped model)
    scores every possible questionnaire to check that each band can be reached."""
    return Decision(
        rule=THRESHOLD_RULE,
        target_recall=TARGET_RECALL,
        bootstrap_resamples=evaluation.BOOTSTRAP_RESAMPLES,
        groups={
            name: decide_group(
                name, labels[groups == code], out_of_fold[groups == code], code, predict, seed
            )
            for code, name in GROUPS.items()
        },
    )


def decide_group(
    name: str,
    labels: np.ndarray,
    out_of_fold: np.ndarray,
    code: int,
    predict: Callable[[np.ndarray], np.ndarray],
    seed: int,
) -> GroupDecision:
    """One group's rule from its rows' out-of-fold predictions (training, and `soulsync
    recalibrate` on its cross-fitted ones). Raises RuleError for a band that would be empty."""
    threshold = choose_threshold(labels, out_of_fold)
    if threshold >= BAND_STARTS[0]:
        raise RuleError(
            f"{name}: threshold {threshold:.3f} is not below where `high` starts "
            f"({BAND_STARTS[0]}): `moderate` would be empty"
        )
    rule = DecisionRule(threshold, BAND_STARTS)
    return GroupDecision(
        threshold=threshold,
        threshold_interval=threshold_interval(labels, out_of_fold, seed),
        at_threshold=evaluation.decisions(labels, out_of_fold >= threshold),
        band_starts=BAND_STARTS,
        bands=_bands(name, rule, labels, out_of_fold, predict(answer_space(code))),
    )


def _bands(
    group: str, rule: DecisionRule, labels: np.ndarray, scores: np.ndarray, space: np.ndarray
) -> list[Band]:
    starts = [0.0, rule.threshold, *rule.band_starts]
    levels_held = np.array([rule.risk_level(p) for p in scores.tolist()])
    levels_possible = np.array([rule.risk_level(p) for p in space.tolist()])
    bands = []
    for level, start in zip(RiskLevel, starts, strict=True):
        held = levels_held == level
        share = float((levels_possible == level).mean())
        if share == 0.0:
            raise RuleError(f"{group}: no questionnaire can reach the band `{level}`")
        positives = int(labels[held].sum())
        bands.append(
            Band(
                level=level.value,
                starts_at=start,
                rows=int(held.sum()),
                positives=positives,
                observed_rate=positives / int(held.sum()) if held.any() else None,
                answer_space_share=share,
            )
        )
    return bands

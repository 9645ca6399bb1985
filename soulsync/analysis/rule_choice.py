"""Each group's decision rule, chosen on out-of-fold predictions: its threshold (with a
bootstrap interval), where its higher risk bands start, and what each band held."""

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
        rule=evaluation.THRESHOLD_RULE,
        target_recall=evaluation.TARGET_RECALL,
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
    threshold = evaluation.choose_threshold(labels, out_of_fold)
    if threshold >= BAND_STARTS[0]:
        raise RuleError(
            f"{name}: threshold {threshold:.3f} is not below where `high` starts "
            f"({BAND_STARTS[0]}): `moderate` would be empty"
        )
    rule = DecisionRule(threshold, BAND_STARTS)
    return GroupDecision(
        threshold=threshold,
        threshold_interval=evaluation.threshold_interval(labels, out_of_fold, seed),
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

"""Each group's decision rule, chosen on out-of-fold predictions: its threshold (with a
bootstrap interval), where its higher risk bands start, and what each band held."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from soulsync import evaluation
from soulsync.inference.card import Band, Decision, GroupDecision
from soulsync.inference.decision import DecisionRule, RiskLevel
from soulsync.questionnaire import GROUP_KEY, GROUPS, QUESTIONS

#: Where `high` and `very_high` start, the same for every group: the model is calibrated within
#: each group, so a band means the same risk for everyone. 0.65 lies above the students'
#: threshold (0.48 on the survey data; its bootstrap interval reaches 0.65), so `moderate` is
#: not empty; training checks that, and that every band can be reached in each group.
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
    chosen = {}
    for code, name in GROUPS.items():
        rows = groups == code
        y, p = labels[rows], out_of_fold[rows]
        threshold = evaluation.choose_threshold(y, p)
        if threshold >= BAND_STARTS[0]:
            raise RuleError(
                f"{name}: threshold {threshold:.3f} is not below where `high` starts "
                f"({BAND_STARTS[0]}): `moderate` would be empty"
            )
        rule = DecisionRule(threshold, BAND_STARTS)
        chosen[name] = GroupDecision(
            threshold=threshold,
            threshold_interval=evaluation.threshold_interval(y, p, seed),
            at_threshold=evaluation.decisions(y, p >= threshold),
            band_starts=BAND_STARTS,
            bands=_bands(name, rule, y, p, predict(answer_space(code))),
        )
    return Decision(
        rule=evaluation.THRESHOLD_RULE,
        target_recall=evaluation.TARGET_RECALL,
        bootstrap_resamples=evaluation.BOOTSTRAP_RESAMPLES,
        groups=chosen,
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

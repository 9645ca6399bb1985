"""`soulsync recalibrate`: fit a model's probabilities to the app's own users.

From exports of answers with outcomes (what `soulsync monitor` reads), it fits each group's
probability map, a logistic re-fit on the served model's logit (intercept and slope), re-derives
each group's threshold by the training's rule (recall at least 0.90, with its bootstrap
interval, bands that every group can reach), and writes a new model folder: the same model
file(s), and a card whose map the service applies whatever the backend, with a new version and
figures before and after measured on local rows that were not used for the fit that scored them.

Held out by cross-fitting: within each group the rows are split into RECALIBRATION_FOLDS parts
(stratified by outcome); each part is scored by a map, and judged by a threshold, fitted on the
other parts. The map and threshold written to the card are fitted on every row, as the training
fits the shipped model on the whole development part after its cross-validation.

LiteRT, numpy and scikit-learn: no TensorFlow (the monitor extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from soulsync.analysis import evaluation, logistic, rule_choice
from soulsync.analysis.exports import read_exports
from soulsync.inference.card import GroupRecalibration, ModelCard
from soulsync.inference.decision import flag
from soulsync.inference.figures import Decisions, ProbabilityFigures
from soulsync.inference.probability_map import IDENTITY, GroupMap, apply_map, logit, sigmoid
from soulsync.inference.screening import Screener
from soulsync.questionnaire import GROUP_COLUMN, GROUPS
from soulsync.recalibration.recalibrated_card import (
    RECALIBRATION_FOLDS,
    RECALIBRATION_SEED,
    recalibrated_card,
)


class RecalibrationError(ValueError):
    """Nothing can be recalibrated as asked; the message says what and why."""


@dataclass(frozen=True)
class GroupRows:
    """One group's local rows: outcomes, served probabilities before, cross-fitted after."""

    labels: np.ndarray
    before: np.ndarray
    after: np.ndarray | None


@dataclass(frozen=True)
class Recalibrated:
    card: ModelCard
    base: ModelCard
    rows: dict[str, GroupRows]


def recalibrate(paths: list[Path], model_path: Path) -> Recalibrated:
    """Fit the model at `model_path` to the outcomes in the exports; writes nothing."""
    screener = Screener.load(model_path)
    base = screener.card.model_card
    if base is None:
        raise RecalibrationError(
            f"{model_path}: its model card is from an older build (no per-group rules): "
            "recalibrate a model trained by this version"
        )
    export = read_exports(paths, outcomes_required=True)
    assert export.outcomes is not None  # read_exports(outcomes_required=True) guarantees it
    served, _ = screener.score(export.answers)
    groups = export.answers[:, GROUP_COLUMN]
    base_maps = screener.card.probability_map or {}
    raw_model = screener.predictor.backend

    maps = {name: base_maps.get(name, IDENTITY) for name in GROUPS.values()}
    decisions = dict(base.decision.groups)
    results: dict[str, GroupRecalibration] = {}
    rows_of: dict[str, GroupRows] = {}
    for code, name in GROUPS.items():
        rows = groups == code
        labels, before = export.outcomes[rows], served[rows]
        positives = int(labels.sum())
        rows_of[name] = GroupRows(labels, before, None)
        if not rows.any():
            note = "the exports hold no row of this group, so its present map and rule stay"
            results[name] = _kept(note, labels, maps[name])
            continue
        before_figures = _figures(labels, before)
        before_decisions = evaluation.decisions(labels, flag(before, groups[rows], screener.rules))
        if min(positives, len(labels) - positives) < evaluation.CALIBRATION_MINIMUM:
            note = (
                f"{positives} positive and {len(labels) - positives} negative rows: fewer than "
                f"{evaluation.CALIBRATION_MINIMUM} of each, so the present map and rule stay"
            )
            results[name] = _kept(note, labels, maps[name], before_figures, before_decisions)
            continue
        after, after_decisions = _cross_fitted(labels, before)
        intercept, slope = logistic.logistic_fit(logit(before), labels)
        present = maps[name]
        maps[name] = GroupMap(  # the new map on top of the present one, on the raw output
            intercept=float(intercept[0] + slope[0] * present.intercept),
            slope=float(slope[0] * present.slope),
        )
        new_map = {name: maps[name]}
        try:
            decisions[name] = rule_choice.decide_group(
                name,
                labels,
                after,
                code,
                lambda space, new_map=new_map: apply_map(
                    raw_model.predict(space), space[:, GROUP_COLUMN], new_map
                ),
                RECALIBRATION_SEED,
            )
        except rule_choice.RuleError as error:
            raise RecalibrationError(
                f"{error}: on these outcomes the group's rule would not keep every band "
                "(docs/model.md)"
            ) from error
        results[name] = GroupRecalibration(
            status="refit",
            note=f"re-fitted on {len(labels)} rows ({positives} positive)",
            rows=len(labels),
            positives=positives,
            map=maps[name],
            before=before_figures,
            before_decisions=before_decisions,
            after=_figures(labels, after),
            after_decisions=after_decisions,
        )
        rows_of[name] = GroupRows(labels, before, after)
    if all(result.status == "kept" for result in results.values()):
        raise RecalibrationError(
            "no group has enough labelled rows to re-fit: "
            + "; ".join(f"{name}: {result.note}" for name, result in results.items())
        )
    card = recalibrated_card(
        base, screener.version, export, paths, maps, decisions, results, raw_model
    )
    return Recalibrated(card=card, base=base, rows=rows_of)


def _kept(
    note: str,
    labels: np.ndarray,
    present: GroupMap,
    before: ProbabilityFigures | None = None,
    before_decisions: Decisions | None = None,
) -> GroupRecalibration:
    """A group whose present map and rule stay, and why."""
    return GroupRecalibration(
        status="kept",
        note=note,
        rows=len(labels),
        positives=int(labels.sum()),
        map=present,
        before=before,
        before_decisions=before_decisions,
        after=None,
        after_decisions=None,
    )


def _figures(labels: np.ndarray, probabilities: np.ndarray) -> ProbabilityFigures:
    return evaluation.probability_figures(labels, probabilities, RECALIBRATION_SEED)


def _cross_fitted(labels: np.ndarray, served: np.ndarray) -> tuple[np.ndarray, Decisions]:
    """Each row's probability under a map fitted without it, and the results under thresholds
    chosen without it."""
    scored = logit(served)
    after = np.zeros(len(labels))
    flagged = np.zeros(len(labels), dtype=bool)
    parts = StratifiedKFold(RECALIBRATION_FOLDS, shuffle=True, random_state=RECALIBRATION_SEED)
    for fit_rows, held_rows in parts.split(scored, labels):
        intercept, slope = logistic.logistic_fit(scored[fit_rows], labels[fit_rows])
        fitted = sigmoid(intercept[0] + slope[0] * scored[fit_rows])
        threshold = rule_choice.choose_threshold(labels[fit_rows], fitted)
        after[held_rows] = sigmoid(intercept[0] + slope[0] * scored[held_rows])
        flagged[held_rows] = after[held_rows] >= threshold
    return after, evaluation.decisions(labels, flagged)

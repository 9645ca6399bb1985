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

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from soulsync.analysis import evaluation, logistic, rule_choice, versions
from soulsync.analysis.drift_reference import build_reference
from soulsync.analysis.exports import Export, read_exports, shown_name
from soulsync.inference import drift
from soulsync.inference.backends import Backend
from soulsync.inference.card import (
    Decision,
    GroupDecision,
    GroupRecalibration,
    ModelCard,
    ProbabilityMap,
    Recalibration,
    SourceFile,
)
from soulsync.inference.decision import flag
from soulsync.inference.figures import Decisions, ProbabilityFigures
from soulsync.inference.probability_map import IDENTITY, GroupMap, apply_map, logit, sigmoid
from soulsync.inference.screening import Screener
from soulsync.questionnaire import GROUP_COLUMN, GROUPS

RECALIBRATION_FOLDS = 5
RECALIBRATION_SEED = 20241101
METHOD = (
    "per group, a logistic re-fit of the outcome on the logit of the probability the base model "
    "serves (intercept and slope, maximum likelihood with a negligible pull toward the identity "
    "that keeps separated rows finite), composed with the base model's own map if it has one; "
    "then the group's threshold by the training's rule on the cross-fitted probabilities"
)
HELD_OUT = (
    f"cross-fitting: each group's rows in {RECALIBRATION_FOLDS} parts, stratified by outcome; "
    "every row's `after` probability comes from a map fitted on the other parts, and its "
    "`after` result from a threshold chosen by the same rule on them. `before` is the base "
    "model on every row (nothing is fitted for it)"
)
MINIMUM = (
    f"a group is re-fitted only with at least {evaluation.CALIBRATION_MINIMUM} labelled rows of "
    "each outcome: ten per parameter of the map, and a threshold found at the "
    f"{rule_choice.TARGET_RECALL:.0%} recall that "
    "rests on the eighteenth-highest positive or lower, not on one or two people; a group with "
    "fewer keeps its present map and rule"
)
REFERENCE_SOURCE = (
    "the local export(s) this model was recalibrated on, scored by the recalibrated model; a "
    f"group with fewer than {drift.MINIMUM_COUNT} rows there keeps the base model's "
    "reference"
)
RECALIBRATION_REPORT = "recalibration.html"
#: The code that determines a recalibration: this package and what it imports (its version).
PACKAGE = Path(__file__).resolve().parent
LIBRARIES = ("numpy", "scikit-learn", "ai-edge-litert")


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
        if not rows.any():
            results[name] = GroupRecalibration(
                status="kept",
                note="the exports hold no row of this group, so its present map and rule stay",
                rows=0,
                positives=0,
                map=maps[name],
                before=None,
                before_decisions=None,
                after=None,
                after_decisions=None,
            )
            rows_of[name] = GroupRows(labels, before, None)
            continue
        before_figures = _figures(labels, before)
        before_decisions = evaluation.decisions(labels, flag(before, groups[rows], screener.rules))
        if min(positives, len(labels) - positives) < evaluation.CALIBRATION_MINIMUM:
            results[name] = GroupRecalibration(
                status="kept",
                note=f"{positives} positive and {len(labels) - positives} negative rows: fewer "
                f"than {evaluation.CALIBRATION_MINIMUM} of each, so the present map and rule "
                "stay",
                rows=len(labels),
                positives=positives,
                map=maps[name],
                before=before_figures,
                before_decisions=before_decisions,
                after=None,
                after_decisions=None,
            )
            rows_of[name] = GroupRows(labels, before, None)
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
    card = _card(base, screener.version, export, paths, maps, decisions, results, raw_model)
    return Recalibrated(card=card, base=base, rows=rows_of)


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


def _sources(paths: list[Path], export: Export) -> list[SourceFile]:
    """Each export's checksum, rows and positives."""
    found, start = [], 0
    assert export.outcomes is not None
    for path, rows in zip(paths, export.file_rows, strict=True):
        found.append(
            SourceFile(
                name=shown_name(Path(path.name)),
                rows=rows,
                positives=int(export.outcomes[start : start + rows].sum()),
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            )
        )
        start += rows
    return found


def _version(base_version: str, sources: list[SourceFile]) -> str:
    """A short hash of what determines the recalibrated model: the base model, the local data,
    the code and libraries, and the settings; the same inputs give the same version."""
    determined = {
        "base_version": base_version,
        "data_sha256": [source.sha256 for source in sources],
        "code_sha256": versions.code_sha256(PACKAGE),
        "libraries": versions.library_versions(LIBRARIES),
        "settings": {
            "folds": RECALIBRATION_FOLDS,
            "seed": RECALIBRATION_SEED,
            "minimum": evaluation.CALIBRATION_MINIMUM,
            "target_recall": rule_choice.TARGET_RECALL,
            "bootstrap_resamples": evaluation.BOOTSTRAP_RESAMPLES,
        },
    }
    return versions.artifact_version(determined)


def _card(
    base: ModelCard,
    base_version: str,
    export: Export,
    paths: list[Path],
    maps: dict[str, GroupMap],
    decisions: dict[str, GroupDecision],
    results: dict[str, GroupRecalibration],
    raw_model: Backend,
) -> ModelCard:
    sources = _sources(paths, export)
    version = _version(base_version, sources)
    decision = Decision(
        rule=base.decision.rule
        + "; recalibrated groups: on the cross-fitted probabilities of the local rows",
        target_recall=base.decision.target_recall,
        bootstrap_resamples=base.decision.bootstrap_resamples,
        groups=decisions,
    )
    groups = export.answers[:, GROUP_COLUMN]
    mapped = apply_map(raw_model.predict(export.answers), groups, maps)
    local = build_reference(export.answers, groups, mapped, decision.rules(), REFERENCE_SOURCE)
    reference_groups = {
        name: local.groups[name]
        if name in local.groups and local.groups[name].rows >= drift.MINIMUM_COUNT
        else base.drift_reference.groups[name]
        for name in GROUPS.values()
    }
    refit = [name for name, result in results.items() if result.status == "refit"]
    return replace(
        base,
        format=base.format if base.format > 2 else 3,
        version=version,
        decision=decision,
        drift_reference=replace(local, groups=reference_groups),
        limitations=[
            *base.limitations,
            f"Recalibrated (soulsync recalibrate) on {len(export):,} labelled local rows: "
            f"{', '.join(refit)} re-fitted. `selection`, `cross_validation` and `test` describe "
            "the base model on the survey; `recalibration` holds the local figures, before and "
            "after.",
        ],
        probability_map=ProbabilityMap(
            rule="the service turns the model's output p into sigmoid(intercept + slope * "
            "logit(p)) with the map of the questionnaire's group",
            groups=maps,
        ),
        recalibration=Recalibration(
            base_version=base_version,
            base_name=base.name,
            data=sources,
            method=METHOD,
            held_out=HELD_OUT,
            minimum=MINIMUM,
            groups=results,
            code_sha256=versions.code_sha256(PACKAGE),
            libraries=versions.library_versions(LIBRARIES),
            report=RECALIBRATION_REPORT,
        ),
    )

"""The card of a recalibrated model: the method as it states it, the local data it was fitted
on, its version (a hash of what determines it), and the drift reference of the local rows."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from soulsync.analysis import evaluation, rule_choice, versions
from soulsync.analysis.drift_reference import build_reference
from soulsync.analysis.exports import Export, shown_name
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
from soulsync.inference.probability_map import GroupMap, apply_map
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


def recalibrated_card(
    base: ModelCard,
    base_version: str,
    export: Export,
    paths: list[Path],
    maps: dict[str, GroupMap],
    decisions: dict[str, GroupDecision],
    results: dict[str, GroupRecalibration],
    raw_model: Backend,
) -> ModelCard:
    """The base model's card with the new maps and rules, a new version, the local drift
    reference where it rests on enough rows, and the recalibration's own account."""
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

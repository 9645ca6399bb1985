"""Drift: how far the answers and scores a model meets have moved from those it learned from.

The reference is the model card's (`reference`: each group's answer shares, score bins and share
flagged in the development data). Live traffic and exported answers are counted in the same
layout (`drift_counts.CountLayout`), and every figure is a population stability index (PSI) of one
distribution against its reference: each question's answers, the scores, and the results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import marshmallow_dataclass
import numpy as np

from soulsync.inference.card import DriftReference
from soulsync.inference.drift_counts import CountLayout
from soulsync.questionnaire import GROUP_KEY, KEYS

#: Inner edges of the bins scores are counted in: finer at both ends, where most scores of each
#: group lie. Training saves them in the card's reference; live counts use the card's.
SCORE_EDGES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
#: PSI below WATCH_FROM reads `ok`, from SHIFT_FROM `shift` (the usual cut-offs of the index).
WATCH_FROM = 0.1
SHIFT_FROM = 0.25
#: Below this many questionnaires of a group, its figures are withheld (`too_few`): a PSI of a
#: few answers is noise, and the shares of one or two would tell what a person answered.
MINIMUM_COUNT = 200
#: A share of 0 is taken as this, so that a PSI stays finite.
SHARE_FLOOR = 1e-4
SCOPE_INSTANCE = (
    "This instance's traffic since it started, summed over its workers: one instance sees only "
    "its own share of the service's traffic. `soulsync monitor` reads an export of all of it."
)


class Status(StrEnum):
    OK = "ok"
    WATCH = "watch"
    SHIFT = "shift"
    TOO_FEW = "too_few"


def score_bins(edges: Sequence[float], probabilities: np.ndarray) -> np.ndarray:
    """The bin of each probability: bin i holds edges[i-1] < p <= edges[i] (inner edges; as
    Prometheus' `le` buckets)."""
    return np.searchsorted(np.asarray(edges), probabilities, side="left")


def psi(observed: Sequence[float], expected: Sequence[float]) -> float:
    """Population stability index of two distributions over the same bins (shares)."""
    total = 0.0
    for seen, wanted in zip(observed, expected, strict=True):
        seen, wanted = max(seen, SHARE_FLOOR), max(wanted, SHARE_FLOOR)
        total += (seen - wanted) * math.log(seen / wanted)
    return total


def status_of(index: float) -> Status:
    if index >= SHIFT_FROM:
        return Status.SHIFT
    return Status.WATCH if index >= WATCH_FROM else Status.OK


def _documented(
    description: str | None = None, *, status: bool = False, nullable: bool = False
) -> dict[str, object]:
    """A dataclass field's metadata for the schema generated from it: its description; a status
    is written as its value (`ok`, ...); a nullable figure is still always there."""
    documented: dict[str, object] = {"description": description} if description else {}
    metadata: dict[str, object] = {}
    if status:
        metadata["by_value"] = True
        documented["type"] = "string"
    if nullable:
        metadata["required"] = True
    return {**metadata, "metadata": documented} if documented else metadata


@dataclass(frozen=True)
class Figure:
    """One distribution against its reference."""

    name: str = field(metadata=_documented("A question's key, `score`, `result` or `group_mix`."))
    psi: float | None = field(
        metadata=_documented("Population stability index; null while too few.", nullable=True)
    )
    status: Status = field(metadata=_documented(status=True))
    questionnaires: int


def worst(statuses: set[Status]) -> Status:
    """The status that most needs a look: shift, then watch, then too_few."""
    for status in (Status.SHIFT, Status.WATCH, Status.TOO_FEW):
        if status in statuses:
            return status
    return Status.OK


@dataclass(frozen=True)
class GroupDrift:
    questionnaires: int
    status: Status = field(
        metadata=_documented("The worst status of the group's figures.", status=True)
    )
    flagged_share: float | None = field(
        metadata=_documented("Share whose result is Depression; null while too few.", nullable=True)
    )
    reference_flagged_share: float
    figures: list[Figure]


@dataclass(frozen=True)
class CutOffs:
    watch_from: float
    shift_from: float
    minimum_count: int


@dataclass(frozen=True)
class Drift:
    """Every drift figure of a set of questionnaires (an instance's traffic, an export), as
    `GET /monitoring` and `soulsync monitor`'s summary.json give them."""

    scope: str = field(
        metadata=_documented("What the figures rest on: this instance's traffic, or an export.")
    )
    status: Status = field(metadata=_documented("The worst status of every figure.", status=True))
    model_version: str
    cut_offs: CutOffs
    reference_available: bool = field(
        metadata=_documented("False for a model whose card has no drift reference.")
    )
    group_mix: Figure | None = field(metadata=_documented(nullable=True))
    groups: dict[str, GroupDrift]


#: Generated from the dataclasses: what documents and writes a Drift.
DriftSchema = marshmallow_dataclass.class_schema(Drift)
DRIFT_SCHEMA = DriftSchema()


def measure(
    reference: DriftReference | None,
    layout: CountLayout,
    counts: np.ndarray,
    scope: str,
    model_version: str,
    minimum: int = MINIMUM_COUNT,
) -> Drift:
    """The drift of what `counts` holds (in `layout`) against `reference`, each group judged
    from `minimum` questionnaires on (more where the counts carry noise); a model without a
    reference has no figures (`too_few`)."""
    cut_offs = CutOffs(WATCH_FROM, SHIFT_FROM, minimum)
    if reference is None:
        return Drift(scope, Status.TOO_FEW, model_version, cut_offs, False, None, {})
    mix = group_mix(reference, layout, counts, minimum)
    groups = drift_by_group(reference, layout, counts, minimum)
    status = worst({mix.status} | {group.status for group in groups.values()})
    return Drift(scope, status, model_version, cut_offs, True, mix, groups)


def drift_by_group(
    reference: DriftReference,
    layout: CountLayout,
    counts: np.ndarray,
    minimum: int = MINIMUM_COUNT,
) -> dict[str, GroupDrift]:
    """Each group's figures: every question, the score and the result, against the reference,
    each distribution's shares taken of its own total. A group with fewer than `minimum`
    questionnaires gets counts and `too_few`, no shares."""
    found = {}
    for group, expected in reference.groups.items():
        seen = layout.group_counts(counts, group)
        n = seen.questionnaires
        enough = n >= minimum

        def figure(name: str, observed: list[int], wanted: list[float], *, n=n, enough=enough):
            total = sum(observed)  # n, for exact counts; the live counts each carry noise
            if not enough or total <= 0:
                return Figure(name, None, Status.TOO_FEW, n)
            index = psi([c / total for c in observed], wanted)
            return Figure(name, round(index, 6), status_of(index), n)

        # Within a group, its own question (WorkOrStudent) cannot move: the group mix is a
        # figure of its own (group_mix).
        figures = [
            figure(key, seen.answers[key], expected.answers[key])
            for key in KEYS
            if key != GROUP_KEY
        ]
        figures.append(figure("score", seen.scores, expected.scores))
        figures.append(
            figure(
                "result",
                [seen.negative, seen.positive],
                [1 - expected.flagged, expected.flagged],
            )
        )
        found[group] = GroupDrift(
            questionnaires=n,
            status=worst({figure.status for figure in figures}),
            flagged_share=round(seen.positive / n, 6) if enough else None,
            reference_flagged_share=round(expected.flagged, 6),
            figures=figures,
        )
    return found


def group_mix(
    reference: DriftReference,
    layout: CountLayout,
    counts: np.ndarray,
    minimum: int = MINIMUM_COUNT,
) -> Figure:
    """The share of each group among the questionnaires, against the reference's."""
    seen = [layout.group_counts(counts, group).questionnaires for group in reference.groups]
    wanted = [expected.rows for expected in reference.groups.values()]
    n = sum(seen)
    if n < minimum:
        return Figure("group_mix", None, Status.TOO_FEW, n)
    index = psi([c / n for c in seen], [w / sum(wanted) for w in wanted])
    return Figure("group_mix", round(index, 6), status_of(index), n)

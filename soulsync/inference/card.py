"""The model card's types: what a shipped model says about itself, defined once as typed
dataclasses.

Training builds a `ModelCard`; `model_folder` writes it beside the model files and reads it back
through the same definition, which validates it; the API's `GET /model` documents it with the
schema generated from it (`ModelCardSchema`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import marshmallow_dataclass

from soulsync.inference.decision import DecisionRule
from soulsync.inference.figures import (
    Decisions,
    GroupedEvaluation,
    ProbabilityFigures,
)
from soulsync.inference.probability_map import GroupMap
from soulsync.inference.selection import CrossValidation, Selection

#: The card format this code writes; a card without `format` is from an older build. Format 3
#: added the calibration figures and the probability map of a recalibrated model; a format-2
#: card reads as one without them.
CARD_FORMAT = 3


# --- the card's parts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """One risk level of a group: where it starts and what it held out of fold."""

    level: str
    starts_at: float
    rows: int  # development rows in the band, scored out of fold
    positives: int
    observed_rate: float | None  # positives / rows
    answer_space_share: float  # share of all possible questionnaires of the group in the band


@dataclass(frozen=True)
class GroupDecision:
    """One group's threshold, how sure it is, what it does, and its bands."""

    threshold: float
    #: 95 % bootstrap interval of the threshold (the rule re-applied to resampled rows).
    threshold_interval: tuple[float, float]
    #: The rule's figures at the threshold, out of fold over the development part.
    at_threshold: Decisions
    #: Where `high` and `very_high` start.
    band_starts: tuple[float, float]
    bands: list[Band]

    def rule(self) -> DecisionRule:
        return DecisionRule(self.threshold, self.band_starts)


@dataclass(frozen=True)
class Decision:
    rule: str
    target_recall: float
    bootstrap_resamples: int
    groups: dict[str, GroupDecision]

    def rules(self) -> dict[str, DecisionRule]:
        """Each group's decision rule, by group name."""
        return {name: group.rule() for name, group in self.groups.items()}


@dataclass(frozen=True)
class Feature:
    key: str
    codes: list[int]
    encoding: str
    #: The answer a factor's effect is measured against.
    reference: int


@dataclass(frozen=True)
class Training:
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    l2: float


@dataclass(frozen=True)
class ModelInfo:
    candidate: str
    description: str
    input: str
    output: str
    class_imbalance: str
    training: Training


@dataclass(frozen=True)
class SourceFile:
    name: str
    rows: int
    positives: int
    sha256: str


@dataclass(frozen=True)
class RowCount:
    rows: int
    positives: int


@dataclass(frozen=True)
class DataFacts:
    sources: list[SourceFile]
    rows: int
    positives: int
    by_group: dict[str, RowCount]
    seed: int
    splits: dict[str, RowCount]


@dataclass(frozen=True)
class Provenance:
    """What determines the model, and so its version: the same on any machine."""

    data_sha256: list[str]
    code_sha256: str
    libraries: dict[str, str]
    configuration: dict[str, Any]


@dataclass(frozen=True)
class Parity:
    rows: int
    max_abs_diff: float
    tolerance: float


@dataclass(frozen=True)
class GroupDriftReference:
    """A group's answers and scores in the data the model learned from, for drift checks."""

    rows: int
    #: Per question, the share of each option, in the order of its codes.
    answers: dict[str, list[float]]
    #: Share of scores in each bin of `DriftReference.score_edges`.
    scores: list[float]
    #: Share whose result is Depression.
    flagged: float


@dataclass(frozen=True)
class DriftReference:
    """How each group answered and was scored in the data the model was fit on: what drift is
    measured against (the card's `reference`)."""

    source: str
    #: Inner edges of the score bins (bin i holds edges[i-1] < p <= edges[i]).
    score_edges: list[float]
    groups: dict[str, GroupDriftReference]


@dataclass(frozen=True)
class Artifacts:
    keras: str
    tflite: str
    report: str


@dataclass(frozen=True)
class ProbabilityMap:
    """Applied by the service to the model's output, whatever the backend: each group's
    probability becomes sigmoid(intercept + slope * logit(p))."""

    rule: str
    groups: dict[str, GroupMap]


@dataclass(frozen=True)
class GroupRecalibration:
    """What recalibration did for one group, with figures on local rows not used for the fit."""

    #: `refit`, or `kept` (too few labelled rows: the base map and rule stay).
    status: str
    note: str
    rows: int
    positives: int
    map: GroupMap
    #: The base model on every local row of the group (no fit involved). None when the
    #: exports hold no row of the group.
    before: ProbabilityFigures | None
    before_decisions: Decisions | None
    #: Cross-fitted: each row scored by a map and threshold fitted without it. None if kept.
    after: ProbabilityFigures | None
    after_decisions: Decisions | None


@dataclass(frozen=True)
class Recalibration:
    """How a recalibrated model was made from its base model and local outcomes."""

    base_version: str
    base_name: str
    data: list[SourceFile]
    method: str
    held_out: str
    minimum: str
    groups: dict[str, GroupRecalibration]
    code_sha256: str
    libraries: dict[str, str]
    report: str


@dataclass(frozen=True)
class ModelCard:
    """Everything a shipped model says about itself (format 3)."""

    format: int
    name: str
    #: Derived from the provenance: the same data, code and configuration give the same version.
    version: str
    #: The exported weights; may differ in the last bit from one machine to another.
    weights_sha256: str
    model: ModelInfo
    features: list[Feature]
    reference_rule: str
    decision: Decision
    selection: Selection
    cross_validation: CrossValidation
    test: GroupedEvaluation
    calibration_bins: int
    parity: Parity
    data: DataFacts
    provenance: Provenance
    #: `reference` in the card's JSON.
    drift_reference: DriftReference = field(metadata={"data_key": "reference"})
    intended_use: str
    limitations: list[str]
    artifacts: Artifacts
    #: Set by `soulsync recalibrate`: the map the service applies, and how it was made. The
    #: sections above it then describe the base model on the survey, except `version`,
    #: `decision` and `reference` (the drift reference), which are the recalibrated model's.
    probability_map: ProbabilityMap | None = None
    recalibration: Recalibration | None = None


#: The card's marshmallow schema, generated from the dataclasses: it reads and validates cards
#: and documents `GET /model`.
ModelCardSchema = marshmallow_dataclass.class_schema(ModelCard)
MODEL_CARD_SCHEMA = ModelCardSchema()

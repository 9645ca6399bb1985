"""The model card's types: what a shipped model says about itself, defined once as typed
dataclasses.

Training builds a `ModelCard`; `model_folder` writes it beside the model files and reads it back
through the same definition, which validates it; the API's `GET /model` documents it with the
schema generated from it (`ModelCardSchema`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow_dataclass

from soulsync.inference.decision import DecisionRule

#: The card format this code writes; a card without `format` is from an older build.
CARD_FORMAT = 2


# --- the card's parts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation of one figure over the cross-validation folds."""

    mean: float
    std: float


@dataclass(frozen=True)
class Scores:
    """Figures of probabilities that need no threshold. `roc_auc` is None for one class only."""

    roc_auc: float | None
    log_loss: float
    brier: float
    ece: float


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


@dataclass(frozen=True)
class Selection:
    rule: str
    chosen: str
    candidates: list[CandidateResult]


@dataclass(frozen=True)
class CrossValidation:
    folds: int
    rows: int
    #: Pooled out-of-fold predictions of the shipped recipe, at the decision rule.
    out_of_fold: GroupedEvaluation
    #: Fold-by-fold spread of the threshold-free figures.
    spread: dict[str, Spread]


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
class Count:
    rows: int
    positives: int


@dataclass(frozen=True)
class DataFacts:
    sources: list[SourceFile]
    rows: int
    positives: int
    by_group: dict[str, Count]
    seed: int
    splits: dict[str, Count]


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
class GroupReference:
    """A group's answers and scores in the data the model learned from, for drift checks."""

    rows: int
    #: Per question, the share of each option, in the order of its codes.
    answers: dict[str, list[float]]
    #: Share of scores in each bin of `Reference.score_edges`.
    scores: list[float]
    #: Share whose result is Depression.
    flagged: float


@dataclass(frozen=True)
class Reference:
    source: str
    #: Inner edges of the score bins (bin i holds edges[i-1] < p <= edges[i]).
    score_edges: list[float]
    groups: dict[str, GroupReference]


@dataclass(frozen=True)
class Artifacts:
    keras: str
    tflite: str
    report: str


@dataclass(frozen=True)
class ModelCard:
    """Everything a shipped model says about itself (format 2)."""

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
    reference: Reference
    intended_use: str
    limitations: list[str]
    artifacts: Artifacts


#: The card's marshmallow schema, generated from the dataclasses: it reads and validates cards
#: and documents `GET /model`.
ModelCardSchema = marshmallow_dataclass.class_schema(ModelCard)
MODEL_CARD_SCHEMA = ModelCardSchema()

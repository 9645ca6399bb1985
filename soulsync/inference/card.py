"""The model card: what a shipped model says about itself, defined once as typed dataclasses.

Training builds a `ModelCard` and writes it next to the model files (`write_card`); the service
reads it back through the same definition, which validates it (`ServingCard.read`); the API's
`GET /model` documents it with the schema generated from it (`MODEL_CARD_SCHEMA`). A card from
an older build (one threshold for everyone) and a model with no card at all (the old service's
`.h5`) are still served, with what they say or with stated defaults.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import marshmallow
import marshmallow_dataclass

from soulsync.questionnaire import GROUPS, KEYS, QUESTIONS

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
CARD_FILE = "model_card.json"
REPORT_FILE = "report.png"
#: The card format this code writes; a card without `format` is from an older build.
CARD_FORMAT = 2

#: Where the package keeps the shipped artifact (package data).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
DEFAULT_MODEL_PATH = SHIPPED_MODEL_DIR / TFLITE_FILE

#: For a model with no card: the old service's cut-off, and the lowest code as the reference.
FALLBACK_THRESHOLD = 0.5
#: Where `high` and `very_high` started in cards from before the rules were given per group.
LEGACY_BAND_STARTS = (0.5, 0.8)


class CardError(ValueError):
    """A model card that cannot be read; the message names the file and the problem."""


class RiskLevel(StrEnum):
    """Ordered levels; `low` is exactly the result No Depression."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    VERY_HIGH = "very_high"


RISK_LEVEL_RULE = (
    "`low`: below the threshold of the person's group (students or working professionals), so "
    "the result is No Depression. `moderate`, `high`, `very_high`: rising bands from that "
    "threshold up, each meaning the result is Depression. Each group's threshold and the "
    "probabilities where `high` and `very_high` start are in `GET /model`, under `decision`."
)


@dataclass(frozen=True)
class DecisionRule:
    """One group's decision: Depression from `threshold`, and where the higher bands start.

    `band_starts` are the probabilities from which `high` and `very_high` start; `moderate`
    starts at the threshold, so a level never contradicts the result.
    """

    threshold: float
    band_starts: tuple[float, float]

    def __post_init__(self) -> None:
        high, very_high = self.band_starts
        if not 0.0 < self.threshold <= high <= very_high <= 1.0:
            raise ValueError(
                f"decision rule out of order: threshold {self.threshold}, bands {self.band_starts}"
            )

    def risk_level(self, probability: float) -> RiskLevel:
        if probability < self.threshold:
            return RiskLevel.LOW
        levels = (RiskLevel.MODERATE, RiskLevel.HIGH, RiskLevel.VERY_HIGH)
        return levels[bisect.bisect_right(self.band_starts, probability)]


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


def card_document(card: ModelCard) -> dict[str, Any]:
    """The card as JSON-ready data, as `model_card.json` holds it."""
    return MODEL_CARD_SCHEMA.dump(card)


def write_card(card: ModelCard, path: Path) -> None:
    path.write_text(json.dumps(card_document(card), indent=2) + "\n", encoding="utf-8")


# --- what the service reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServingCard:
    """What the service needs of whatever card a model has: its version, each group's decision
    rule, the reference answers of its factors, and the document `GET /model` serves."""

    version: str
    rules: dict[str, DecisionRule]
    references: dict[str, int]
    document: dict[str, Any] = field(repr=False)
    #: The typed card, for a card of the current format; None for older ones.
    card: ModelCard | None = field(default=None, repr=False)

    @property
    def reference(self) -> Reference | None:
        """The drift reference, which only cards of the current format carry."""
        return self.card.reference if self.card is not None else None

    @classmethod
    def read(cls, model_path: Path) -> ServingCard:
        """The card written beside `model_path` for it, or a stated fallback if there is none.

        Raises CardError for a card that describes this model but cannot be read.
        """
        card_path = model_path.parent / CARD_FILE
        if not card_path.is_file():
            return cls.fallback(model_path)
        try:
            document = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CardError(f"{card_path}: not a readable JSON card ({error})") from error
        if (
            not isinstance(document, dict)
            or model_path.name not in dict(document.get("artifacts") or {}).values()
        ):
            return cls.fallback(model_path)  # a card, but for another model file
        if "format" not in document:
            return cls.legacy(card_path, document)
        try:
            card = MODEL_CARD_SCHEMA.load(document)
        except marshmallow.ValidationError as error:
            raise CardError(f"{card_path}: {_first_problem(error.messages)}") from error
        rules = {group: decision.rule() for group, decision in card.decision.groups.items()}
        missing = sorted(set(GROUPS.values()) - set(rules))
        if missing:
            raise CardError(f"{card_path}: no decision rule for {', '.join(missing)}")
        return cls(
            version=card.version,
            rules=rules,
            references={feature.key: feature.reference for feature in card.features},
            document=document,
            card=card,
        )

    @classmethod
    def legacy(cls, card_path: Path, document: dict[str, Any]) -> ServingCard:
        """A card from before format 2: one threshold for every group, the bands of then."""
        try:
            threshold = float(document["threshold"]["value"])
            references = {f["key"]: int(f["reference"]) for f in document["features"]}
            version = str(document["version"])
        except (KeyError, TypeError, ValueError) as error:
            raise CardError(f"{card_path}: an older card without {error}") from error
        return cls(version, _one_rule(threshold), references, document)

    @classmethod
    def fallback(cls, model_path: Path) -> ServingCard:
        """A model with no card of its own is served with stated defaults."""
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:12]
        version = f"file-{digest}"
        references = {question.key: question.min_code for question in QUESTIONS}
        document = {
            "name": model_path.name,
            "version": version,
            "threshold": {
                "value": FALLBACK_THRESHOLD,
                "rule": "no model card: the old service's fixed cut-off of 0.5, for everyone",
            },
            "features": [{"key": key, "reference": references[key]} for key in KEYS],
            "intended_use": "Depression-risk screening aid. Not a diagnosis.",
            "limitations": [
                "This model file has no model card: its training data, metrics and "
                "calibration are unknown to this service."
            ],
        }
        return cls(version, _one_rule(FALLBACK_THRESHOLD), references, document)


def _one_rule(threshold: float) -> dict[str, DecisionRule]:
    high, very_high = (max(threshold, start) for start in LEGACY_BAND_STARTS)
    return dict.fromkeys(GROUPS.values(), DecisionRule(threshold, (high, very_high)))


def _first_problem(messages: Any, where: str = "") -> str:
    """The first validation message, with the path of keys that leads to it."""
    if isinstance(messages, dict):
        key, inner = next(iter(messages.items()))
        return _first_problem(inner, f"{where}.{key}" if where else str(key))
    if isinstance(messages, list) and messages:
        return _first_problem(messages[0], where)
    return f"{where}: {messages}"

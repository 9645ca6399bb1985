"""The model card: what a shipped model says about itself, and where its files live.

The training pipeline writes the card next to the model files; the predictor reads the version,
the decision threshold and the reference answers from it. A model without a card of its own
(the old service's `.h5`, say) is served with stated defaults.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from soulsync.questionnaire import GROUPS, QUESTIONS

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
CARD_FILE = "model_card.json"
REPORT_FILE = "report.png"

#: Where the package keeps the shipped artifact (package data).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
DEFAULT_MODEL_PATH = SHIPPED_MODEL_DIR / TFLITE_FILE

#: For a model with no card: the old service's cut-off, and the lowest code as the reference.
FALLBACK_THRESHOLD = 0.5
#: Where `high` and `very_high` start in a card from before the rules were given per group.
LEGACY_BAND_STARTS = (0.5, 0.8)


class RiskLevel(StrEnum):
    """Ordered levels; `low` is exactly the result No Depression."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    VERY_HIGH = "very_high"


RISK_LEVEL_RULE = (
    "`low`: below the threshold of the person's group, so the result is No Depression. "
    "`moderate`, `high`, `very_high`: rising bands from that threshold up, so each of them "
    "means the result is Depression. The threshold and the bands' lower edges for each group "
    "are in `GET /model` (`decision`)."
)


@dataclass(frozen=True)
class DecisionRule:
    """One group's decision: Depression from `threshold`, and where each risk band starts.

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


@dataclass(frozen=True)
class ModelCard:
    """The parts of a card the predictor uses, plus the whole document for `GET /model`."""

    version: str
    threshold: float
    references: dict[str, int]
    document: dict[str, Any] = field(repr=False)

    def decision_rules(self) -> dict[str, DecisionRule]:
        """Each group's rule. A card with one threshold applies it to every group, with the
        fixed bands of that format."""
        high, very_high = (max(self.threshold, start) for start in LEGACY_BAND_STARTS)
        return dict.fromkeys(GROUPS.values(), DecisionRule(self.threshold, (high, very_high)))

    @classmethod
    def for_model(cls, model_path: Path) -> ModelCard:
        """The card written beside `model_path` for it, or a stated fallback if there is none."""
        card_path = model_path.parent / CARD_FILE
        if card_path.is_file():
            document = json.loads(card_path.read_text(encoding="utf-8"))
            if model_path.name in document.get("artifacts", {}).values():
                return cls(
                    version=str(document["version"]),
                    threshold=float(document["threshold"]["value"]),
                    references={
                        feature["key"]: int(feature["reference"])
                        for feature in document["features"]
                    },
                    document=document,
                )
        return cls.fallback(model_path)

    @classmethod
    def fallback(cls, model_path: Path) -> ModelCard:
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:12]
        version = f"file-{digest}"
        references = {question.key: question.min_code for question in QUESTIONS}
        document = {
            "name": model_path.name,
            "version": version,
            "threshold": {
                "value": FALLBACK_THRESHOLD,
                "rule": "no model card: the old service's fixed cut-off of 0.5",
            },
            "features": [{"key": key, "reference": code} for key, code in references.items()],
            "intended_use": "Depression-risk screening aid. Not a diagnosis.",
            "limitations": [
                "This model file has no model card: its training data, metrics and "
                "calibration are unknown to this service."
            ],
        }
        return cls(version, FALLBACK_THRESHOLD, references, document)

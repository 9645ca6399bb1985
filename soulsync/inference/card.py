"""The model card: what a shipped model says about itself, and where its files live.

The training pipeline writes the card next to the model files; the predictor reads the version,
the decision threshold and the reference answers from it. A model without a card of its own
(the old service's `.h5`, say) is served with stated defaults.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soulsync.questionnaire import QUESTIONS

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
CARD_FILE = "model_card.json"
REPORT_FILE = "report.png"

#: Where the package keeps the shipped artifact (package data).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
DEFAULT_MODEL_PATH = SHIPPED_MODEL_DIR / TFLITE_FILE

#: For a model with no card: the old service's cut-off, and the lowest code as the reference.
FALLBACK_THRESHOLD = 0.5


@dataclass(frozen=True)
class ModelCard:
    """The parts of a card the predictor uses, plus the whole document for `GET /model`."""

    version: str
    threshold: float
    references: dict[str, int]
    document: dict[str, Any] = field(repr=False)

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

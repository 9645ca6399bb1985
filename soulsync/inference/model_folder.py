"""A model folder: the files a trained model ships as, writing one whole, and reading its card
back.

A folder holds the Keras file, its LiteRT twin, `model_card.json` and the report. The service
reads whatever card a model has: a card of the current format or of format 2 (validated through
the card's types; a recalibrated model's card carries a probability map), a card from an older
build (one threshold for everyone), or none at all (the old service's `.h5`), which is served
with stated defaults.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marshmallow

from soulsync.inference.card import MODEL_CARD_SCHEMA, DriftReference, ModelCard
from soulsync.inference.decision import FALLBACK_THRESHOLD, DecisionRule, one_rule_for_everyone
from soulsync.inference.probability_map import GroupMap
from soulsync.questionnaire import GROUPS, KEYS, QUESTIONS

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
CARD_FILE = "model_card.json"
REPORT_FILE = "report.png"

#: Where the package keeps the shipped artifact (package data).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
DEFAULT_MODEL_PATH = SHIPPED_MODEL_DIR / TFLITE_FILE


class CardError(ValueError):
    """A model card that cannot be read; the message names the file and the problem."""


def card_document(card: ModelCard) -> dict[str, Any]:
    """The card as JSON-ready data, as `model_card.json` holds it."""
    return MODEL_CARD_SCHEMA.dump(card)


def write_card(card: ModelCard, folder: Path) -> Path:
    """Write the card into a model folder; the file written."""
    path = folder / CARD_FILE
    path.write_text(json.dumps(card_document(card), indent=2) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def staged_folder(out_dir: Path, *, replace: bool) -> Iterator[Path]:
    """A model folder written whole or not at all (training and recalibration both write one
    so): the block writes into a new folder beside `out_dir`, which becomes `out_dir` when the
    block ends; an error on the way removes it and leaves `out_dir` as it was. With `replace`, a
    folder already at `out_dir` is replaced (training rewrites the shipped model); without, it
    must be absent or empty (FileExistsError otherwise)."""
    if not replace and out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir}: already exists and is not an empty folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    previous = staging.with_name(staging.name + "-previous")
    try:
        yield staging
        if out_dir.exists():
            out_dir.rename(previous)
        try:
            staging.rename(out_dir)
        except BaseException:
            if previous.exists():
                previous.rename(out_dir)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(previous, ignore_errors=True)


@dataclass(frozen=True)
class ServingCard:
    """What the service needs of whatever card a model has: its version, each group's decision
    rule, the reference answer of each question (what a factor is measured against), the
    document `GET /model` serves, and the probability map of a recalibrated model."""

    version: str
    rules: dict[str, DecisionRule]
    reference_answers: dict[str, int]
    document: dict[str, Any] = field(repr=False)
    #: The typed card, for a card of format 2 or later; None for older ones.
    model_card: ModelCard | None = field(default=None, repr=False)

    @property
    def probability_map(self) -> dict[str, GroupMap] | None:
        """Each group's map of the model's output, for a recalibrated model; None otherwise."""
        if self.model_card is None or self.model_card.probability_map is None:
            return None
        return dict(self.model_card.probability_map.groups)

    @property
    def drift_reference(self) -> DriftReference | None:
        """The drift reference, which only cards of the current format carry."""
        return self.model_card.drift_reference if self.model_card is not None else None


def read_card(model_path: Path) -> ServingCard:
    """The card written beside `model_path` for it, or a stated fallback if there is none.

    Raises CardError for a card that describes this model but cannot be read.
    """
    card_path = model_path.parent / CARD_FILE
    if not card_path.is_file():
        return _fallback(model_path)
    try:
        document = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CardError(f"{card_path}: not a readable JSON card ({error})") from error
    if (
        not isinstance(document, dict)
        or model_path.name not in dict(document.get("artifacts") or {}).values()
    ):
        return _fallback(model_path)  # a card, but for another model file
    if "format" not in document:
        return _legacy(card_path, document)
    try:
        card = MODEL_CARD_SCHEMA.load(document)
    except marshmallow.ValidationError as error:
        raise CardError(f"{card_path}: {_first_problem(error.messages)}") from error
    rules = card.decision.rules()
    missing = sorted(set(GROUPS.values()) - set(rules))
    if missing:
        raise CardError(f"{card_path}: no decision rule for {', '.join(missing)}")
    if card.probability_map is not None:
        for group, found in card.probability_map.groups.items():
            if group not in GROUPS.values():
                raise CardError(f"{card_path}: probability_map.groups: unknown group {group!r}")
            if not (math.isfinite(found.intercept) and math.isfinite(found.slope)) or (
                found.slope <= 0
            ):
                raise CardError(
                    f"{card_path}: probability_map.groups.{group}: the slope must be a positive "
                    "number and the intercept a finite one"
                )
    return ServingCard(
        version=card.version,
        rules=rules,
        reference_answers={feature.key: feature.reference for feature in card.features},
        document=document,
        model_card=card,
    )


def _legacy(card_path: Path, document: dict[str, Any]) -> ServingCard:
    """A card from before format 2: one threshold for every group, the bands of then."""
    try:
        threshold = float(document["threshold"]["value"])
        references = {f["key"]: int(f["reference"]) for f in document["features"]}
        version = str(document["version"])
    except (KeyError, TypeError, ValueError) as error:
        raise CardError(f"{card_path}: an older card without {error}") from error
    return ServingCard(version, one_rule_for_everyone(threshold), references, document)


def _fallback(model_path: Path) -> ServingCard:
    """A model with no card of its own is served with stated defaults: the old cut-off for
    everyone, and each question's lowest code as the reference answer."""
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
    return ServingCard(version, one_rule_for_everyone(FALLBACK_THRESHOLD), references, document)


def _first_problem(messages: Any, where: str = "") -> str:
    """The first validation message, with the path of keys that leads to it."""
    if isinstance(messages, dict):
        key, inner = next(iter(messages.items()))
        return _first_problem(inner, f"{where}.{key}" if where else str(key))
    if isinstance(messages, list) and messages:
        return _first_problem(messages[0], where)
    return f"{where}: {messages}"

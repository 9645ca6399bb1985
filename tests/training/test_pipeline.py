"""The training pipeline end to end on a generated survey: artifacts, card, parity, reload."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from soulsync.inference.backends import KerasBackend, LiteBackend
from soulsync.inference.card import CARD_FILE, KERAS_FILE, REPORT_FILE, TFLITE_FILE, ModelCard
from soulsync.questionnaire import KEYS
from soulsync.training.data import load_dataset

pytest.importorskip("tensorflow", reason="training needs the 'train' extra")

METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "brier", "ece")


def test_artifacts_are_written(trained) -> None:
    out, _ = trained
    for name in (KERAS_FILE, TFLITE_FILE, CARD_FILE, REPORT_FILE):
        assert (out / name).stat().st_size > 0, name
    assert (out / REPORT_FILE).read_bytes().startswith(b"\x89PNG")


def test_card_is_complete(trained) -> None:
    out, card = trained
    assert json.loads((out / CARD_FILE).read_text()) == json.loads(json.dumps(card))
    assert [f["key"] for f in card["features"]] == list(KEYS)
    assert 0 < card["threshold"]["value"] < 1 and card["threshold"]["rule"]
    for name in METRICS:
        assert set(card["cross_validation"][name]) == {"mean", "std"}, name
        assert name in card["test"], name
    assert set(card["test"]["confusion_matrix"]) == {"tn", "fp", "fn", "tp"}
    assert set(card["test"]["by_group"]) == {"students", "professionals"}
    assert set(card["selection"]["candidates"]) == {"linear", "network"}
    assert card["selection"]["chosen"] == card["model"]["candidate"]
    assert len(card["data"]["sources"][0]["sha256"]) == 64
    assert sum(s["rows"] for s in card["data"]["splits"].values()) == card["data"]["rows"]
    assert "not a diagnosis" in card["intended_use"]
    assert {"tensorflow", "numpy", "python"} <= set(card["libraries"])


def test_lite_and_keras_agree_on_every_row(trained, survey_dir: Path) -> None:
    out, card = trained
    answers = load_dataset(survey_dir).answers
    lite = LiteBackend(out / TFLITE_FILE).predict(answers)
    keras_ = KerasBackend(out / KERAS_FILE).predict(answers)
    assert np.max(np.abs(lite - keras_)) <= 1e-5
    assert card["parity"]["rows"] == len(answers)
    assert card["parity"]["max_abs_diff"] <= 1e-5


def test_reload_gives_identical_predictions(trained, survey_dir: Path) -> None:
    out, _ = trained
    answers = load_dataset(survey_dir).answers
    first = LiteBackend(out / TFLITE_FILE).predict(answers)
    again = LiteBackend(out / TFLITE_FILE).predict(answers)
    assert np.array_equal(first, again)
    assert ((first > 0) & (first < 1)).all()


def test_card_feeds_the_predictor(trained) -> None:
    out, card = trained
    loaded = ModelCard.for_model(out / TFLITE_FILE)
    assert loaded.version == card["version"]
    assert loaded.threshold == card["threshold"]["value"]


@pytest.mark.slow
def test_same_data_and_seed_give_the_same_model(trained, survey_dir: Path, tmp_path: Path) -> None:
    from soulsync.training.pipeline import run

    _, card = trained
    again = run(survey_dir, tmp_path, epochs=3, progress=lambda line: None)
    assert again["version"] == card["version"]
    assert again["cross_validation"]["roc_auc"] == card["cross_validation"]["roc_auc"]

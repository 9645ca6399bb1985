"""The training pipeline end to end on the fixture survey: artifacts, card, rules, parity,
reload, and a version that depends on what determines the model, not on the weights."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from soulsync.inference.backends import KerasBackend, LiteBackend
from soulsync.inference.decision import RiskLevel
from soulsync.inference.model_folder import (
    CARD_FILE,
    KERAS_FILE,
    REPORT_FILE,
    TFLITE_FILE,
    card_document,
    read_card,
)
from soulsync.questionnaire import GROUPS, KEYS
from soulsync.training.data import load_dataset

pytest.importorskip("tensorflow", reason="training needs the 'train' extra")
pytestmark = pytest.mark.slow  # every test here needs a model trained on the fixture survey


def test_artifacts_are_written(trained) -> None:
    out, _ = trained
    for name in (KERAS_FILE, TFLITE_FILE, CARD_FILE, REPORT_FILE):
        assert (out / name).stat().st_size > 0, name
    assert (out / REPORT_FILE).read_bytes().startswith(b"\x89PNG")


def test_card_file_is_the_card(trained) -> None:
    out, card = trained
    written = json.loads((out / CARD_FILE).read_text())
    assert written == json.loads(json.dumps(card_document(card)))
    assert [f.key for f in card.features] == list(KEYS)
    assert [c.name for c in card.selection.candidates] == [
        "linear",
        "shrunk_0",
        "shrunk_25",
        "shrunk_50",
        "shrunk_75",
        "group_scale",
        "interactions",
        "network",
    ]
    assert card.selection.chosen == card.model.candidate
    assert set(card.test.by_group) == set(card.cross_validation.out_of_fold.by_group)
    assert set(card.test.by_group) == set(GROUPS.values())
    assert len(card.data.sources[0].sha256) == 64
    assert sum(s.rows for s in card.data.splits.values()) == card.data.rows
    assert "not a diagnosis" in card.intended_use
    assert {"tensorflow", "numpy"} <= set(card.provenance.libraries)


def test_each_group_has_a_rule_meeting_the_target_recall(trained) -> None:
    _, card = trained
    for name, group in card.decision.groups.items():
        low, high = group.threshold_interval
        assert 0 < group.threshold < group.band_starts[0] <= group.band_starts[1] < 1, name
        assert low <= group.threshold <= high, name
        assert group.at_threshold.recall >= card.decision.target_recall, name
        figures = card.cross_validation.out_of_fold.by_group[name].decisions
        assert figures == group.at_threshold, name


def test_bands_are_ordered_reachable_and_add_up(trained) -> None:
    _, card = trained
    for name, group in card.decision.groups.items():
        assert [band.level for band in group.bands] == [level.value for level in RiskLevel]
        starts = [band.starts_at for band in group.bands]
        assert starts == [0.0, group.threshold, *group.band_starts], name
        assert all(band.answer_space_share > 0 for band in group.bands), name
        assert sum(band.answer_space_share for band in group.bands) == pytest.approx(1.0)
        rows = card.cross_validation.out_of_fold.by_group[name].rows
        assert sum(band.rows for band in group.bands) == rows, name


def test_limitations_are_computed_from_the_data(trained) -> None:
    _, card = trained
    text = " ".join(card.limitations)
    assert f"Trained on {card.data.rows:,} rows" in text
    assert "2,556" not in text


def test_reference_describes_each_group(trained) -> None:
    _, card = trained
    rows = sum(reference.rows for reference in card.drift_reference.groups.values())
    assert rows == card.data.splits["development"].rows
    for name, reference in card.drift_reference.groups.items():
        for key, shares in reference.answers.items():
            assert sum(shares) == pytest.approx(1.0), (name, key)
        assert len(reference.scores) == len(card.drift_reference.score_edges) + 1
        assert sum(reference.scores) == pytest.approx(1.0)
        assert 0 <= reference.flagged <= 1


def test_lite_and_keras_agree_on_every_row(trained, survey_dir: Path) -> None:
    out, card = trained
    answers = load_dataset(survey_dir).answers
    lite = LiteBackend(out / TFLITE_FILE).predict(answers)
    keras_ = KerasBackend(out / KERAS_FILE).predict(answers)
    assert np.max(np.abs(lite - keras_)) <= 1e-5
    assert card.parity.rows == len(answers)
    assert card.parity.max_abs_diff <= 1e-5


def test_reload_gives_identical_predictions(trained, survey_dir: Path) -> None:
    out, _ = trained
    answers = load_dataset(survey_dir).answers
    first = LiteBackend(out / TFLITE_FILE).predict(answers)
    again = LiteBackend(out / TFLITE_FILE).predict(answers)
    assert np.array_equal(first, again)
    assert ((first > 0) & (first < 1)).all()


def test_card_feeds_the_service(trained) -> None:
    out, card = trained
    served = read_card(out / TFLITE_FILE)
    assert served.version == card.version
    assert {name: rule.threshold for name, rule in served.rules.items()} == {
        name: group.threshold for name, group in card.decision.groups.items()
    }
    assert served.reference_answers == {f.key: f.reference for f in card.features}


def test_version_is_derived_from_the_provenance_not_the_weights(trained) -> None:
    from soulsync.training.export import model_version

    _, card = trained
    assert model_version(card.provenance) == card.version
    changed = replace(card.provenance, data_sha256=["0" * 64, *card.provenance.data_sha256[1:]])
    assert model_version(changed) != card.version
    assert len(card.weights_sha256) == 64


def test_the_version_covers_every_module_training_imports() -> None:
    """A module that shapes the card (the drift reference's bins, the card's types) changes the
    version when it changes, without anyone listing it; the HTTP layer and the service's own
    version do not."""
    from soulsync.analysis.versions import PROJECT, code_files
    from soulsync.training.export import TRAINING_PACKAGE

    names = {path.relative_to(PROJECT).as_posix() for path in code_files(TRAINING_PACKAGE)}
    assert {"training/stages.py", "questionnaire.py", "analysis/evaluation.py"} <= names
    assert {"inference/drift.py", "inference/card.py", "inference/decision.py"} <= names
    assert not any(name.startswith("api/") for name in names)
    assert "__init__.py" not in names and "app.py" not in names


def test_same_data_and_code_give_the_same_model(trained, survey_dir: Path, tmp_path) -> None:
    from soulsync.training.pipeline import run

    _, card = trained
    again = run(survey_dir, tmp_path, epochs=30, progress=lambda line: None)
    assert again.version == card.version
    assert again.weights_sha256 == card.weights_sha256
    assert again.cross_validation == card.cross_validation


def test_every_candidate_is_judged_per_group_with_intervals(trained) -> None:
    _, card = trained
    for result in card.selection.candidates:
        for part in (result.out_of_fold, result.test):
            assert set(part) == {"all", *GROUPS.values()}, result.name
            for figures in part.values():
                for estimate in (figures.log_loss, figures.calibration_slope):
                    assert estimate.low <= estimate.value <= estimate.high, result.name
                assert 0 <= figures.ece.low <= figures.ece.high, result.name
        assert set(result.stress.groups) == set(GROUPS.values())
        for group in result.stress.groups.values():
            assert group.worst_calibration_loss >= group.calibration_loss >= 0
        assert f"'{result.name}'" in card.selection.reason
    assert card.selection.reason.startswith(f"'{card.selection.chosen}' ships")


def test_the_stress_family_spans_the_two_groups(trained) -> None:
    _, card = trained
    family = card.selection.stress_family
    slopes = family.shared_score_slopes
    ratio = slopes["professionals"] / slopes["students"]
    assert sorted(family.steepness["students"]) == pytest.approx(sorted([1.0, ratio]))
    assert sorted(family.steepness["professionals"]) == pytest.approx(sorted([1.0, 1 / ratio]))


def test_the_shrunk_candidates_lie_between_their_ends(trained) -> None:
    """Keeping more of the students' own slope moves their out-of-fold calibration slope from
    shrunk_0's toward group_scale's, step by step."""
    _, card = trained
    by_name = {
        c.name: c.out_of_fold["students"].calibration_slope.value for c in card.selection.candidates
    }
    steps = [
        by_name[name] for name in ("shrunk_0", "shrunk_25", "shrunk_50", "shrunk_75", "group_scale")
    ]
    assert steps == sorted(steps) or steps == sorted(steps, reverse=True)


def test_the_card_says_how_far_the_probabilities_can_be_trusted(trained) -> None:
    _, card = trained
    text = " ".join(card.limitations)
    assert "calibration slope" in text and "soulsync recalibrate" in text
    assert card.selection.what_would_change
    assert card.probability_map is None and card.recalibration is None

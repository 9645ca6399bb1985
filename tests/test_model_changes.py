"""scripts/model_changes.py, which CHANGELOG.md's entry of each retrain quotes."""

from __future__ import annotations

from pathlib import Path

from soulsync.inference.model_folder import DEFAULT_MODEL_PATH
from soulsync.inference.screening import Screener
from tests.scripts import model_changes

V1 = Path(__file__).parent / "fixtures" / "model-v1" / "model.tflite"


def test_a_model_against_itself_changes_nothing() -> None:
    shipped = Screener.load(DEFAULT_MODEL_PATH)
    for change in model_changes.changes(shipped, shipped):
        assert change.questionnaires > 100_000
        assert change.to_depression == change.to_no_depression == change.largest_shift == 0
        assert 0 < change.flagged_before == change.flagged_after < 1


def test_another_model_moves_results_both_ways_counted() -> None:
    before, after = Screener.load(V1), Screener.load(DEFAULT_MODEL_PATH)
    for change in model_changes.changes(before, after):
        assert change.largest_shift > 0
        moved = change.to_depression - change.to_no_depression
        assert abs(change.flagged_after - change.flagged_before - moved) < 1e-9

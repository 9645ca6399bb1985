"""scripts/model_changes.py, which CHANGELOG.md's entry of each retrain quotes."""

from __future__ import annotations

import runpy
from pathlib import Path

from soulsync.inference.model_folder import DEFAULT_MODEL_PATH
from soulsync.inference.screening import Screener

ROOT = Path(__file__).resolve().parents[2]
V1 = ROOT / "tests" / "fixtures" / "model-v1" / "model.tflite"
#: A program of scripts/, a folder that is not a package.
changes = runpy.run_path(str(ROOT / "scripts" / "model_changes.py"))["changes"]


def test_a_model_against_itself_changes_nothing() -> None:
    shipped = Screener.load(DEFAULT_MODEL_PATH)
    for change in changes(shipped, shipped):
        assert change.questionnaires > 100_000
        assert change.to_depression == change.to_no_depression == change.largest_shift == 0
        assert 0 < change.flagged_before == change.flagged_after < 1


def test_another_model_moves_results_both_ways_counted() -> None:
    before, after = Screener.load(V1), Screener.load(DEFAULT_MODEL_PATH)
    for change in changes(before, after):
        assert change.largest_shift > 0
        moved = change.to_depression - change.to_no_depression
        assert abs(change.flagged_after - change.flagged_before - moved) < 1e-9

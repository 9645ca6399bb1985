"""deploy/smoke-expected.json: what the shipped model answers, able to tell a moved decision
boundary. The smoke script itself runs against gunicorn in tests/e2e/test_smoke.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy import smoke
from soulsync.questionnaire import GROUPS

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy" / "smoke-expected.json"


@pytest.fixture(scope="module")
def committed() -> dict:
    return smoke.load_expected(COMMITTED)


def test_every_threshold_is_watched_from_both_sides(committed: dict, client) -> None:
    """For each group, a questionnaire just below its threshold (No Depression) and one just
    above (Depression), each at least the margin away: a threshold moved further flips one."""
    margin = committed["boundary_margin"]
    card = client.get("/model").get_json()
    for group in GROUPS.values():
        threshold = card["decision"]["groups"][group]["threshold"]
        cases = [c for c in committed["cases"] if c["why"].startswith(f"{group},")]
        below = max(c["probability"] for c in cases if c["result"] == "No Depression")
        above = min(c["probability"] for c in cases if c["result"] == "Depression")
        assert threshold - 2 * margin < below <= threshold - margin, group
        assert threshold + margin <= above < threshold + 2 * margin, group


def test_every_risk_level_is_expected_in_both_groups(committed: dict) -> None:
    for group in GROUPS.values():
        levels = {c["risk_level"] for c in committed["cases"] if c["why"].startswith(f"{group},")}
        assert levels == {"low", "moderate", "high", "very_high"}, group


def test_the_expected_answers_name_the_shipped_model(committed: dict, client) -> None:
    assert committed["model_version"] == client.get("/model").get_json()["version"]
    assert committed["contract"]["reply"]["message"] == "Prediction successful"


def test_an_unreadable_expected_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "expected.json"
    broken.write_text(json.dumps({"model_version": "x"}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"expected\.json lacks probability_tolerance"):
        smoke.load_expected(broken)

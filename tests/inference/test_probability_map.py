"""A recalibrated card's probability map, applied inside the domain: results, levels and factors
all use the mapped probabilities, each row under its own group's map, whatever the backend; a
card without a map (format 2, the previous shipped build) serves exactly as before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from soulsync.analysis.rule_choice import answer_space
from soulsync.app import create_app
from soulsync.inference.backends import LiteBackend, ModelLoadError
from soulsync.inference.model_folder import (
    CARD_FILE,
    SHIPPED_MODEL_DIR,
    TFLITE_FILE,
    ServingCard,
)
from soulsync.inference.predictor import Predictor
from soulsync.inference.probability_map import GroupMap, apply_map, logit, sigmoid
from soulsync.inference.screening import Screener
from soulsync.questionnaire import (
    CONTRACT_EXAMPLE,
    GROUP_COLUMN,
    GROUP_KEY,
    KEYS,
    PROFESSIONAL,
    STUDENT,
)
from tests.inference.test_screening import RULES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
V2 = FIXTURES / "model-v2"
MAPS = {
    "students": GroupMap(intercept=-0.5, slope=0.6),
    "professionals": GroupMap(intercept=0.3, slope=1.4),
}


class GroupBackend:
    """Students' rows score 0.8, professionals' 0.1; a row with Pressure 1 scores 0.5."""

    name = "stub"
    path = Path("stub")

    def predict(self, answers: np.ndarray) -> np.ndarray:
        groups = answers[:, GROUP_COLUMN]
        scores = np.where(groups == STUDENT, 0.8, 0.1)
        return np.where(answers[:, KEYS.index("Pressure")] == 1, 0.5, scores)


def mapped(p: float, group: str) -> float:
    found = MAPS[group]
    return float(sigmoid(found.intercept + found.slope * logit(np.array([p])))[0])


def screener(maps: dict[str, GroupMap] | None) -> Screener:
    references = dict.fromkeys(KEYS, 0) | {"Pressure": 1, GROUP_KEY: PROFESSIONAL}
    card = ServingCard("stub-1", RULES, references, {})
    return Screener(Predictor(GroupBackend(), references, probability_map=maps), card)


def test_the_identity_map_changes_nothing() -> None:
    p = np.array([1e-9, 0.01, 0.3, 0.5, 0.97, 1.0])
    same = apply_map(p, np.zeros(len(p)), {"students": GroupMap(0.0, 1.0)})
    assert np.allclose(same[1:-1], p[1:-1], atol=1e-12)
    assert 0 < same[0] < 1e-6 and 1 - 1e-6 < same[-1] < 1


def test_each_row_is_mapped_by_its_own_group() -> None:
    student = {**CONTRACT_EXAMPLE, GROUP_KEY: STUDENT, "Pressure": 4}
    worker = {**student, GROUP_KEY: PROFESSIONAL}
    plain, refit = screener(None), screener(MAPS)
    assert [s.probability for s in plain.screen([student, worker]).screenings] == [0.8, 0.1]
    found = refit.screen([student, worker]).screenings
    assert found[0].probability == pytest.approx(mapped(0.8, "students"))
    assert found[1].probability == pytest.approx(mapped(0.1, "professionals"))
    probabilities, flagged = refit.score(np.array([list(student.values()), list(worker.values())]))
    assert probabilities.tolist() == pytest.approx([found[0].probability, found[1].probability])
    assert flagged.tolist() == [s.positive for s in found]


def test_factors_are_differences_of_mapped_probabilities() -> None:
    """A factor swaps one answer for its reference within the person's group: both rows are
    mapped with that group's map. The group itself is never a factor."""
    student = {**CONTRACT_EXAMPLE, GROUP_KEY: STUDENT, "Pressure": 4}
    (screening,) = screener(MAPS).screen([student]).screenings
    effects = {factor.key: factor.effect for factor in screening.factors}
    assert effects["Pressure"] == pytest.approx(mapped(0.8, "students") - mapped(0.5, "students"))
    assert GROUP_KEY not in effects


def test_the_rule_applies_to_the_mapped_probability() -> None:
    # 0.1 is above the professionals' threshold (0.07); mapped, it falls below it.
    worker = {**CONTRACT_EXAMPLE, GROUP_KEY: PROFESSIONAL, "Pressure": 4}
    down = {"professionals": GroupMap(intercept=-2.0, slope=1.0)}
    assert screener(None).screen([worker]).screenings[0].result == "Depression"
    (screening,) = screener(down).screen([worker]).screenings
    assert screening.probability < 0.07 and screening.result == "No Depression"


def _with_map(folder: Path, groups: dict) -> Path:
    shutil.copytree(V2, folder)
    card = json.loads((folder / CARD_FILE).read_text())
    card["format"] = 3
    card["probability_map"] = {"rule": "test", "groups": groups}
    (folder / CARD_FILE).write_text(json.dumps(card))
    return folder / TFLITE_FILE


def test_a_card_with_a_map_is_served_with_it_on_the_lite_backend(tmp_path: Path) -> None:
    model = _with_map(tmp_path / "mapped", {"students": {"intercept": 1.0, "slope": 0.5}})
    reply = (
        create_app({"TESTING": True, "MODEL_PATH": str(model)})
        .test_client()
        .post("/predict", json=CONTRACT_EXAMPLE)
        .get_json()
    )
    raw = LiteBackend(model).predict(np.array([list(CONTRACT_EXAMPLE.values())]))
    expected = sigmoid(1.0 + 0.5 * logit(raw))[0]
    assert reply["probability"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("groups", "problem"),
    [
        ({"pupils": {"intercept": 0.0, "slope": 1.0}}, "unknown group 'pupils'"),
        ({"students": {"intercept": 0.0, "slope": -1.0}}, "the slope must be a positive number"),
    ],
)
def test_a_map_that_cannot_be_right_stops_start_up(tmp_path: Path, groups, problem) -> None:
    model = _with_map(tmp_path / "bad", groups)
    with pytest.raises(ModelLoadError) as caught:
        create_app({"MODEL_PATH": str(model)})
    assert problem in str(caught.value)


def test_the_previous_build_format_2_serves_exactly_as_before() -> None:
    """tests/fixtures/model-v2 is a group_scale model with a card of format 2 (no probability
    map); its replies are what the build that made it answered."""
    client = create_app({"TESTING": True, "MODEL_PATH": str(V2 / TFLITE_FILE)}).test_client()
    reply = client.post("/predict", json=CONTRACT_EXAMPLE).get_json()
    assert reply["model_version"] == "cf4fa57fd6d3"
    assert (reply["probability"], reply["threshold"]) == (0.795628, 0.479641)
    assert (reply["result"], reply["risk_level"]) == ("Depression", "high")
    # The factors are today's (the group is never one): its first and third as then.
    factors = [(f["key"], f["effect"]) for f in reply["factors"]]
    assert factors[0] == ("Pressure", 0.778371) and ("FinancialStress", 0.255101) in factors
    worker = client.post("/predict", json={**CONTRACT_EXAMPLE, GROUP_KEY: PROFESSIONAL})
    assert (worker.get_json()["probability"], worker.get_json()["threshold"]) == (
        0.064445,
        0.068214,
    )
    assert client.get("/model").get_json() == json.loads((V2 / CARD_FILE).read_text())


@pytest.mark.parametrize("group", [STUDENT, PROFESSIONAL])
def test_the_shipped_model_ranks_as_the_previous_build(group: int) -> None:
    """docs/model.md expects the shipped model's recall and specificity on another population
    from the previous build's, because both rank every possible questionnaire nearly alike."""
    space = answer_space(group)
    ranks = [
        np.argsort(np.argsort(LiteBackend(folder / TFLITE_FILE).predict(space)))
        for folder in (V2, SHIPPED_MODEL_DIR)
    ]
    assert np.corrcoef(*ranks)[0, 1] > 0.99

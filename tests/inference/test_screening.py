"""The screening rules, with a stub model and no HTTP: each group's threshold decides the result,
risk levels never contradict it, and help is always shown after suicidal thoughts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from soulsync.app import create_app
from soulsync.inference.backends import ModelLoadError
from soulsync.inference.decision import DecisionRule, RiskLevel, flag
from soulsync.inference.model_folder import CARD_FILE, DEFAULT_MODEL_PATH, TFLITE_FILE, ServingCard
from soulsync.inference.predictor import Predictor
from soulsync.inference.screening import Screener
from soulsync.questionnaire import CONTRACT_EXAMPLE, GROUPS, KEYS, PROFESSIONAL, STUDENT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RULES = {
    "students": DecisionRule(0.45, (0.65, 0.8)),
    "professionals": DecisionRule(0.07, (0.65, 0.8)),
}


class StubBackend:
    """Every row scores `probability`."""

    name = "stub"
    path = Path("stub")

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def predict(self, answers: np.ndarray) -> np.ndarray:
        return np.full(len(answers), self.probability)


def screener(probability: float) -> Screener:
    card = ServingCard("stub-1", RULES, dict.fromkeys(KEYS, 0), {})
    return Screener(Predictor(StubBackend(probability), card.reference_answers), card)


def answers(group: int, suicidal: int = 0) -> dict[str, int]:
    return {**CONTRACT_EXAMPLE, "WorkOrStudent": group, "SuicidalTh": suicidal}


def test_each_group_gets_its_own_threshold() -> None:
    (student, professional) = (
        screener(0.30).screen([answers(STUDENT), answers(PROFESSIONAL)]).screenings
    )
    assert (student.result, student.threshold, student.group) == ("No Depression", 0.45, "students")
    assert (professional.result, professional.threshold) == ("Depression", 0.07)
    assert professional.group == "professionals"


@pytest.mark.parametrize("probability", np.linspace(0.0, 1.0, 41).tolist())
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_risk_level_never_contradicts_the_result(probability: float, group: int) -> None:
    (screening,) = screener(probability).screen([answers(group)]).screenings
    assert (screening.risk_level is RiskLevel.LOW) == (screening.result == "No Depression")
    assert (screening.result == "Depression") == (probability >= screening.threshold)


def test_levels_rise_with_the_probability() -> None:
    for group in GROUPS:
        levels = [
            list(RiskLevel).index(screener(p).screen([answers(group)]).screenings[0].risk_level)
            for p in np.linspace(0, 1, 101)
        ]
        assert levels == sorted(levels) and set(levels) == {0, 1, 2, 3}


@pytest.mark.parametrize("probability", [0.0, 0.01, 0.5, 0.99])
def test_suicidal_thoughts_always_get_support(probability: float) -> None:
    for group in GROUPS:
        (screening,) = screener(probability).screen([answers(group, suicidal=1)]).screenings
        assert screening.support_due


def test_support_follows_the_result_without_suicidal_thoughts() -> None:
    low, high = screener(0.01), screener(0.9)
    assert not low.screen([answers(STUDENT)]).screenings[0].support_due
    assert high.screen([answers(STUDENT)]).screenings[0].support_due


def test_an_older_card_with_one_threshold_still_serves_as_before() -> None:
    """tests/fixtures/model-v1 is the model and card shipped before the rules were per group;
    its reply to the contract example is what that build answered."""
    client = create_app(
        {"TESTING": True, "MODEL_PATH": str(FIXTURES / "model-v1" / TFLITE_FILE)}
    ).test_client()
    reply = client.post("/predict", json=CONTRACT_EXAMPLE).get_json()
    assert reply["model_version"] == "3494da45484f"
    assert (reply["probability"], reply["threshold"]) == (0.644133, 0.078547)
    assert (reply["result"], reply["risk_level"]) == ("Depression", "high")
    professional = client.post("/predict", json=answers(PROFESSIONAL)).get_json()
    assert professional["threshold"] == 0.078547
    card = client.get("/model").get_json()
    assert card == json.loads((FIXTURES / "model-v1" / CARD_FILE).read_text())


def test_a_card_that_cannot_be_read_stops_start_up(tmp_path: Path) -> None:
    model = tmp_path / TFLITE_FILE
    model.write_bytes(DEFAULT_MODEL_PATH.read_bytes())
    card = json.loads((DEFAULT_MODEL_PATH.parent / CARD_FILE).read_text())
    card["decision"]["groups"]["students"]["threshold"] = "high"
    (tmp_path / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelLoadError) as caught:
        create_app({"MODEL_PATH": str(model)})
    assert str(caught.value) == (
        f"cannot load model {model}: {tmp_path / CARD_FILE}: "
        "decision.groups.students.value.threshold: Not a valid number."
    )


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_the_vectorised_rule_is_the_rule(group: int) -> None:
    """Training, the retraining check and the monitor apply the rule to whole arrays; serving
    one questionnaire at a time: both must give every probability the same level."""
    probabilities = np.linspace(0.0, 1.0, 1001)
    rule = RULES[GROUPS[group]]
    levels = [list(RiskLevel).index(rule.risk_level(p)) for p in probabilities.tolist()]
    assert rule.level_indices(probabilities).tolist() == levels
    flagged = flag(probabilities, np.full(len(probabilities), group), RULES)
    assert flagged.tolist() == [level > 0 for level in levels]

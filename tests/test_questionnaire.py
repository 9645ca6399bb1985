"""The questionnaire definition must match the contract with existing clients, code for code
(tests/fixtures/contract.json, a copy of the team's contract.md)."""

from __future__ import annotations

import pytest

from soulsync.questionnaire import (
    BY_KEY,
    CONTRACT_EXAMPLE,
    KEYS,
    NEGATIVE_RESULT,
    POSITIVE_RESULT,
    PREDICTION_MESSAGE,
    QUESTIONS,
    Kind,
)


def test_every_code_and_label_matches_the_contract(contract: dict) -> None:
    table = contract["questions"]
    assert list(table) == list(KEYS)
    for question in QUESTIONS:
        expected = table[question.key]
        if "scale" in expected:
            low, high = expected["scale"]
            assert question.kind is Kind.SCALE, question.key
            assert question.codes == tuple(range(low, high + 1)), question.key
            assert all(o.en == str(o.code) for o in question.options)
        else:
            assert question.kind is Kind.CATEGORICAL, question.key
            assert {str(o.code): o.en for o in question.options} == expected, question.key


def test_contract_example_and_reply_strings(contract: dict) -> None:
    assert contract["example"] == CONTRACT_EXAMPLE
    assert contract["reply"]["message"] == PREDICTION_MESSAGE
    assert contract["reply"]["results"] == [POSITIVE_RESULT, NEGATIVE_RESULT]


def test_sleep_codes_are_alphabetical_not_by_hours() -> None:
    sleep = BY_KEY["SleepDr"]
    assert sleep.option(2).en == "Less than 5 hours"
    assert sleep.option(3).en == "More than 8 hours"


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.key)
def test_every_text_and_label_is_said_in_indonesian(question) -> None:
    """The catalog translates each text and label (a scale's numbers stay numbers)."""
    assert question.text("id") != question.text("en")
    for option in question.options:
        if question.kind is Kind.CATEGORICAL:
            assert option.label("id") != option.label("en") == option.en
        else:
            assert option.label("id") == option.label("en") == str(option.code)


@pytest.mark.parametrize(
    ("key", "label", "code"),
    [
        ("Gender", "male", 1),
        ("SleepDr", " 7-8 HOURS ", 1),
        ("DietHabits", "Tidak sehat", 2),
        ("SuicidalTh", "ya", 1),
        ("WorkOrStudent", "pelajar/mahasiswa", 0),
        ("Gender", "unknown", None),
    ],
)
def test_labels_map_to_codes_case_insensitively(key: str, label: str, code: int | None) -> None:
    assert BY_KEY[key].code_for_label(label) == code

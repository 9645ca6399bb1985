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


#: Every label the service accepted as an answer in version 2.0.0, in every language, by key
#: and code: the labels shown then, which a client may have stored or sent since.
LABELS_OF_2_0_0 = {
    "Gender": {0: ["Female", "Perempuan"], 1: ["Laki-laki", "Male"]},
    "WorkOrStudent": {
        0: ["Pelajar/Mahasiswa", "Student"],
        1: ["Pekerja Profesional", "Working Professional"],
    },
    "SleepDr": {
        0: ["5-6 hours", "5-6 jam"],
        1: ["7-8 hours", "7-8 jam"],
        2: ["Kurang dari 5 jam", "Less than 5 hours"],
        3: ["Lebih dari 8 jam", "More than 8 hours"],
    },
    "DietHabits": {
        0: ["Healthy", "Sehat"],
        1: ["Moderate", "Sedang"],
        2: ["Tidak sehat", "Unhealthy"],
    },
    "SuicidalTh": {0: ["No", "Tidak"], 1: ["Ya", "Yes"]},
    "FamHistory": {0: ["No", "Tidak"], 1: ["Ya", "Yes"]},
}


@pytest.mark.parametrize(
    ("key", "code", "label"),
    [
        (key, code, label)
        for key, options in LABELS_OF_2_0_0.items()
        for code, labels in options.items()
        for label in labels
    ],
)
def test_every_label_accepted_before_is_still_accepted(key: str, code: int, label: str) -> None:
    """Relabelling an option (Pekerja Profesional is now Pekerja) never refuses an answer that
    was accepted: the former label stays an alias, in any case."""
    question = BY_KEY[key]
    assert question.read(label) == question.read(label.upper()) == code


def test_the_labels_of_2_0_0_are_every_categorical_question() -> None:
    categorical = [q.key for q in QUESTIONS if q.kind is Kind.CATEGORICAL]
    assert list(LABELS_OF_2_0_0) == categorical


@pytest.mark.parametrize(
    ("key", "label"),
    [("WorkOrStudent", "Pekerja"), ("DietHabits", "Cukup sehat")],
)
def test_relabelled_options_show_their_new_label(key: str, label: str) -> None:
    """The review's labels are what a person reads now; the old ones are only accepted."""
    assert label in [option.label("id") for option in BY_KEY[key].options]


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.key)
def test_indonesian_questions_name_university_students_wherever_they_split(question) -> None:
    """A question asked of students and workers alike says "(bagi pelajar/mahasiswa)": a bare
    "(pelajar)" reads as school pupils only."""
    text = question.text("id")
    if "(students)" in question.text_en:
        assert "(bagi pelajar/mahasiswa)" in text and "(bagi pekerja)" in text
    assert "(pelajar)" not in text


def test_the_family_history_question_names_common_conditions() -> None:
    """ "Gangguan jiwa" reads as severe illness and carries stigma: the question names what the
    survey's "mental illness" covers, so that a parent's depression is answered "Ya"."""
    text = BY_KEY["FamHistory"].text("id")
    assert "gangguan jiwa" not in text.lower()
    assert "depresi" in text and "kecemasan" in text

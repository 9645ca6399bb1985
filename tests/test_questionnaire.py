"""The questionnaire definition must match the contract with existing clients, code for code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from soulsync.questionnaire import BY_KEY, CONTRACT_EXAMPLE, KEYS, QUESTIONS, Kind


def contract_table(contract: Path) -> dict[str, dict[int, str | None]]:
    """key -> {code: label or None for numeric scales}, read from the contract's table."""
    table: dict[str, dict[int, str | None]] = {}
    for line in contract.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("key", "---") or not cells[0].isidentifier():
            continue
        key, _, codes = cells
        scale = re.fullmatch(r"(\d+) to (\d+)", codes)
        if scale:
            low, high = int(scale[1]), int(scale[2])
            table[key] = dict.fromkeys(range(low, high + 1))
        else:
            table[key] = {
                int(code): label.strip().strip('"')
                for code, label in re.findall(r'(\d+) ("[^"]+"|[^,]+)', codes)
            }
    return table


def test_every_code_and_label_matches_the_contract(shared_dir: Path) -> None:
    table = contract_table(shared_dir / "contract.md")
    assert list(table) == list(KEYS)
    for question in QUESTIONS:
        expected = table[question.key]
        assert question.codes == tuple(expected), question.key
        if question.kind is Kind.CATEGORICAL:
            assert {o.code: o.en for o in question.options} == expected, question.key
        else:
            assert all(o.en == str(o.code) for o in question.options)


def test_contract_example_is_the_documented_payload(shared_dir: Path) -> None:
    text = (shared_dir / "contract.md").read_text(encoding="utf-8")
    example = re.search(r'\{"Gender".*?\}', text, re.S)
    assert example is not None
    assert json.loads(example[0]) == CONTRACT_EXAMPLE


def test_sleep_codes_are_alphabetical_not_by_hours() -> None:
    sleep = BY_KEY["SleepDr"]
    assert sleep.option(2).en == "Less than 5 hours"
    assert sleep.option(3).en == "More than 8 hours"


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.key)
def test_every_option_has_both_languages(question) -> None:
    assert question.text("en") and question.text("id")
    for option in question.options:
        assert option.label("en") and option.label("id")


@pytest.mark.parametrize(
    ("key", "label", "code"),
    [
        ("Gender", "male", 1),
        ("SleepDr", " 7-8 HOURS ", 1),
        ("DietHabits", "Tidak sehat", 2),
        ("SuicidalTh", "ya", 1),
        ("Gender", "unknown", None),
    ],
)
def test_labels_map_to_codes_case_insensitively(key: str, label: str, code: int | None) -> None:
    assert BY_KEY[key].code_for_label(label) == code

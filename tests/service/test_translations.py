"""The message catalogs hold every text the code says, translated (`make translations` refreshes
them; tests/project/test_generated.py holds them current)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from soulsync import texts
from soulsync.question import Kind
from soulsync.questionnaire import QUESTIONS
from soulsync.translations import DOMAIN, FOLDER, LANGUAGES, SOURCE_LANGUAGE, Message, catalog

ROOT = Path(__file__).resolve().parents[2]
REFRESH = "run `make translations` (and translate what it adds) and commit the catalogs"
TRANSLATED = [language for language in LANGUAGES if language != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _po(language: str) -> Path:
    return FOLDER / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=language)


@pytest.fixture(scope="module")
def in_code() -> set[str]:
    """Every Message("...") of the package, extracted as `make translations` extracts them."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found = extract_from_dir(ROOT / "soulsync", method_map, options_map, keywords={"Message": None})
    return {message for _, _, message, _, _ in found}


def test_the_texts_are_extracted(in_code: set[str]) -> None:
    """What the catalogs are checked against holds the texts and the questionnaire's labels."""
    assert {texts.NOTICE, texts.SUPPORT_MESSAGE, texts.INVALID_FIELDS} <= in_code
    assert {o.en for q in QUESTIONS if q.kind is Kind.CATEGORICAL for o in q.options} <= in_code
    assert {q.text_en for q in QUESTIONS} <= in_code


def test_every_language_has_a_catalog_and_every_catalog_a_language() -> None:
    folders = {path.parent.parent.name for path in FOLDER.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    assert folders == set(TRANSLATED)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated(language: str, in_code: set[str]) -> None:
    """No text missing, left untranslated or fuzzy (a guess that gettext would not use), and
    each translation fills in the same values as its English."""
    po = _read(_po(language), language)
    entries = {message.id: message for message in po if message.id}
    assert set(entries) - in_code == set(), f"entries no text uses: {REFRESH}"
    missing = sorted(in_code - set(entries))
    assert missing == [], f"not in the {language} catalog: {REFRESH}"
    untranslated = sorted(id_ for id_, entry in entries.items() if not entry.string)
    assert untranslated == [], f"untranslated in {_po(language)}"
    fuzzy = sorted(id_ for id_, entry in entries.items() if entry.fuzzy)
    assert fuzzy == [], f"fuzzy (check, then remove the fuzzy flag) in {_po(language)}"
    for id_, entry in entries.items():
        assert sorted(PLACEHOLDER.findall(entry.string)) == sorted(PLACEHOLDER.findall(id_)), (
            f"{language}: {entry.string!r} must fill in the values of {id_!r}"
        )


@pytest.mark.parametrize("language", TRANSLATED)
def test_messages_are_said_in_the_language(language: str) -> None:
    gettext = catalog(language).gettext
    invalid = texts.ANSWER_INVALID.format(shown="9", allowed=texts.allowed(QUESTIONS[0]))
    said = invalid.said(gettext)
    assert str(invalid) == (
        "Invalid value 9: expected one of the codes 0 (Female), 1 (Male), or one of those labels."
    )
    assert said != str(invalid) and "9" in said
    for option in QUESTIONS[0].options:  # the labels listed are said in the language too
        assert option.label(language) in said


def test_a_message_is_a_string_that_remembers_its_values() -> None:
    message = Message("Send between 1 and {limit} questionnaires; got {count}.")
    filled = message.format(limit=500, count=1).format(count=0)  # as marshmallow formats again
    assert filled == "Send between 1 and 500 questionnaires; got 0."
    assert isinstance(filled, str) and filled.params == {"limit": 500, "count": 0}
    assert filled.said(lambda msgid: msgid.replace("Send", "Kirim")).startswith("Kirim")

"""The languages the service speaks, and its message catalogs.

Every sentence a person may read is written once, in English, where it belongs (the
questionnaire's texts in soulsync/questionnaire.py, everything else the service says in
soulsync/texts.py), as a `Message`: that English text is the catalogs' msgid. Each other
language has a gettext catalog, `soulsync/translations/<language>/LC_MESSAGES/messages.po`,
that a translator edits without reading code; `make translations` extracts the messages into
`messages.pot`, merges them into each catalog and compiles it to `messages.mo`. The compiled
catalogs are committed, so that serving compiles nothing (a test fails while one is stale), and
read with the standard library's gettext: this module imports nothing of the project, so that
the questionnaire (the ground floor) can read its labels in every language through it.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The language of the code's texts (the msgids), and of every reply whose client asks for none.
SOURCE_LANGUAGE = "en"
#: Every language the service speaks (its code, its name in English), the source first; each
#: other one has a catalog here.
LANGUAGE_NAMES = {SOURCE_LANGUAGE: "English", "id": "Indonesian"}
LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_NAMES)
FOLDER = Path(__file__).resolve().parent
DOMAIN = "messages"

Gettext = Callable[[str], str]


@functools.cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of one of LANGUAGES (the source language's translates nothing).

    Raises FileNotFoundError for a language without a compiled catalog: a language is listed
    only with its catalog, and the service does not start without one.
    """
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    if language not in LANGUAGES:
        raise ValueError(f"{language!r} is not one of {LANGUAGES}")
    return gettext.translation(DOMAIN, FOLDER, languages=[language])


class Message(str):
    """A sentence for a person: its English text, which is what it is as a string, and how it
    was made (the catalog's msgid and the values filled into it), so that a reply can say it in
    its reader's language (`said`).

    `format` fills values in as str.format does, but returns a Message that remembers them. A
    value may itself be a Message (said in the same language), a tuple of Messages (said one by
    one, joined by commas), or anything else (shown as it is: a number, what a client sent).
    `pybabel extract` collects every `Message("...")` written with a literal into the catalogs.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Message:
        message = super().__new__(cls, _filled(msgid, params, _english))
        message.msgid = msgid
        message.params = params
        return message

    def format(self, *args: Any, **params: Any) -> Message:
        if args:
            raise TypeError("Message.format takes its values by name")
        return Message(self.msgid, **{**self.params, **params})

    def said(self, translate: Gettext) -> str:
        """This message in the language of `translate` (a catalog's gettext)."""
        return _filled(translate(self.msgid), self.params, translate)


def _english(msgid: str) -> str:
    return msgid


def _filled(text: str, params: dict[str, Any], translate: Gettext) -> str:
    if not params:
        return text
    return text.format_map({name: said(value, translate) for name, value in params.items()})


def said(value: Any, translate: Gettext) -> Any:
    """`value` with every Message in it said in the language of `translate`: in a list, a tuple
    (joined by commas) or a dict's values (keys are names, not sentences, and stay as they are);
    anything else unchanged."""
    if isinstance(value, Message):
        return value.said(translate)
    if isinstance(value, tuple):
        return ", ".join(str(said(item, translate)) for item in value)
    if isinstance(value, list):
        return [said(item, translate) for item in value]
    if isinstance(value, dict):
        return {key: said(item, translate) for key, item in value.items()}
    return value

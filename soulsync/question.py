"""What a question of the questionnaire is: its key, kind, options and texts, each said in
every language the catalogs hold, and how an answer sent for it is read (soulsync/questionnaire.py
holds the ten)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from soulsync.translations import LANGUAGES, Message, catalog


class Kind(StrEnum):
    """How a question's codes relate to each other."""

    CATEGORICAL = "categorical"  # codes name unordered options; the label is the survey's value
    SCALE = "scale"  # codes are the numbers themselves, in order


@dataclass(frozen=True)
class Option:
    """One allowed answer: its wire code and its English label (the survey's value)."""

    code: int
    en: str
    #: Labels this option was shown with before, in any language: no longer shown, still
    #: accepted as answers, so that a client that sends a label it once read keeps working.
    former_labels: tuple[str, ...] = ()

    def label(self, language: str = "en") -> str:
        """The label in one of LANGUAGES."""
        return catalog(language).gettext(self.en)


#: A scale answer as a factor says it: the number, out of how many, and what the top means.
# TRANSLATORS: a factor's answer on a 1-to-5 scale, e.g. "4 of 5 (5 = very high)".
ANSWER_ON_SCALE = Message("{code} of {high_code} ({high_code} = {high})")


@dataclass(frozen=True)
class Question:
    """One question: wire key, short name, text, kind, allowed options and where the survey data
    holds it."""

    key: str
    #: What the question is about, in a few words, for a person (a factor's name).
    name_en: str
    text_en: str
    kind: Kind
    #: In code order (the model's encoding and the drift counts rely on it).
    options: tuple[Option, ...]
    # Survey column per data set; None where the answer is not a column (WorkOrStudent says
    # which of the two files the row came from).
    professional_column: str | None
    student_column: str | None
    #: What a scale's lowest and highest codes mean; None where the number says it (hours).
    anchors: tuple[str, str] | None = None
    #: A count's answer said with its unit ("{code} hours"), where the number alone would not
    #: say what it counts.
    unit: Message | None = None
    #: The codes in the order a person reads the options, where code order is not it.
    display_order: tuple[int, ...] | None = None

    @cached_property
    def codes(self) -> tuple[int, ...]:
        return tuple(option.code for option in self.options)

    @cached_property
    def min_code(self) -> int:
        return min(self.codes)

    @cached_property
    def max_code(self) -> int:
        return max(self.codes)

    @cached_property
    def _labels(self) -> dict[str, int]:
        """Every option's label in every language, and its former labels, lowercase, to its
        code."""
        labels = {
            option.label(language).lower(): option.code
            for option in self.options
            for language in LANGUAGES
        }
        for option in self.options:
            labels |= {former.lower(): option.code for former in option.former_labels}
        return labels

    @cached_property
    def shown_options(self) -> tuple[Option, ...]:
        """The options in the order a person reads them (codes unchanged)."""
        if self.display_order is None:
            return self.options
        return tuple(self.option(code) for code in self.display_order)

    def text(self, language: str = "en") -> str:
        """The question's text in one of LANGUAGES."""
        return catalog(language).gettext(self.text_en)

    def name(self, language: str = "en") -> str:
        """The question's short name in one of LANGUAGES."""
        return catalog(language).gettext(self.name_en)

    def anchor_labels(self, language: str = "en") -> dict[int, str]:
        """What the scale's end codes mean, by code, in one of LANGUAGES; empty without
        anchors."""
        if self.anchors is None:
            return {}
        low, high = self.anchors
        translate = catalog(language).gettext
        return {self.min_code: translate(low), self.max_code: translate(high)}

    def answer_label(self, code: int, language: str = "en") -> str:
        """An answer as a factor names it, in one of LANGUAGES: the option's label; for a
        scale with anchors the number with its scale ("4 of 5 (5 = very high)"); for a count
        the number with its unit ("4 hours")."""
        if self.anchors is not None:
            said = ANSWER_ON_SCALE.format(code=code, high_code=self.max_code, high=self.anchors[1])
        elif self.unit is not None:
            said = self.unit.format(code=code)
        else:
            return self.option(code).label(language)
        return said.said(catalog(language).gettext)

    def option(self, code: int) -> Option:
        for option in self.options:
            if option.code == code:
                return option
        raise KeyError(f"{self.key} has no code {code}")

    def code_for_label(self, label: str) -> int | None:
        """The code whose label (in any of LANGUAGES, any case, spaces around) is `label`.

        Labels are ASCII, so only ASCII text can match: no Unicode case folding or look-alike
        letter (a long s in "student", a Kelvin sign for K) turns into a label.
        """
        if not label.isascii():
            return None
        return self._labels.get(label.strip(" \t\r\n").lower())

    def read(self, value: object) -> int | None:
        """The code an answer stands for, or None if it is not an allowed answer.

        What is promised and nothing that only happens to convert: an integer (not a boolean);
        an integral number (2.0; a Decimal, as strict JSON reading gives, is exact); ASCII
        digits written as text ("2", " 2.0 "); or, for a categorical question, an option's
        label.
        """
        code: int | None = None
        if isinstance(value, bool):
            return None  # true/false are not codes, even though bool is an int
        if isinstance(value, int):
            code = value
        elif isinstance(value, Decimal | float):
            # Range first: turning 1e999999999 into an int would take all the memory.
            if self.min_code <= value <= self.max_code and value == int(value):
                code = int(value)
        elif isinstance(value, str):
            digits = _INTEGRAL_TEXT.fullmatch(value)
            if digits:
                code = int(digits[1])
            elif self.kind is Kind.CATEGORICAL:
                code = self.code_for_label(value)
        return code if code is not None and self.min_code <= code <= self.max_code else None


#: An integral number written as text: ASCII digits, an optional ".0", ASCII spaces around.
_INTEGRAL_TEXT = re.compile(r"[ \t\r\n]*([0-9]{1,6})(?:\.0*)?[ \t\r\n]*", re.ASCII)

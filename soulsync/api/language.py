"""The language of each reply, negotiated the HTTP way, and what the replies say in it.

A client asks with `Accept-Language` (quality values honoured: `id`, `id-ID`, `en-US;q=0.8`
...) or, when it cannot set headers, with `?lang=` (which comes first). A language the service
does not speak falls back to English, never to an error; a client that asks for nothing gets
English, without the one field only a client asking for a language gets (`risk_level_text`).
Every reply that says something to a person carries `Content-Language` and
`Vary: Accept-Language`.

What a reply says in each language (labels, factor names, notice, support block, risk levels)
is prepared once, when the app is built (`Speech`); a request only picks one, the first time it
needs it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from apispec import APISpec
from flask import Flask, Response, current_app, request
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from soulsync import texts
from soulsync.questionnaire import QUESTIONS
from soulsync.translations import (
    LANGUAGE_NAMES,
    LANGUAGES,
    SOURCE_LANGUAGE,
    Gettext,
    catalog,
    said,
)

#: The query parameter of clients that cannot set Accept-Language.
QUERY_PARAMETER = "lang"
#: Language tags that name one of LANGUAGES by another code: Java and Android long wrote
#: Indonesian as `in` (its code before 1989), and so do the apps built on them.
ALIASES = {"in": "id"}
_MATCHES = (*LANGUAGES, *ALIASES)
#: Where the app keeps its Speeches.
EXTENSION = "soulsync.language"


#: The two ways to ask for a language, as the OpenAPI document names them (components), for
#: `@blp.doc(parameters=PARAMETERS)` on every operation whose reply speaks to a person.
PARAMETERS = [QUERY_PARAMETER, "Accept-Language"]
_ASKING = (
    "English when neither asks for a language the service speaks. The reply says which in "
    "Content-Language."
)


def document(spec: APISpec) -> None:
    """Describe the two ways to ask for a language in the OpenAPI document."""
    listed = ", ".join(f"{code} ({name})" for code, name in LANGUAGE_NAMES.items())
    spec.components.parameter(
        QUERY_PARAMETER,
        "query",
        {
            "description": f"The language of the reply's texts, for clients that cannot set "
            f"Accept-Language: {listed}; a regional tag such as id-ID names its language. "
            f"It comes before Accept-Language; {_ASKING}",
            "schema": {"type": "string"},
            "example": "id",
        },
    )
    spec.components.parameter(
        "Accept-Language",
        "header",
        {
            "description": f"The languages the reader prefers, with quality values (RFC 9110), "
            f"such as `id-ID,id;q=0.9,en;q=0.8`: {listed}; {_ASKING} Without it (and without "
            "`lang`) the reply is English and has no `risk_level_text`, as the existing clients "
            "read it.",
            "schema": {"type": "string"},
        },
    )


@dataclass(frozen=True)
class Speech:
    """What the replies say in one language, prepared when the app is built."""

    language: str
    #: Whether the client asked for a language (Accept-Language or ?lang=): only then do
    #: replies carry what the old clients never had (`risk_level_text`).
    asked: bool
    translate: Gettext
    #: Each question's option labels, by key and code.
    labels: Mapping[str, Mapping[int, str]]
    #: Each question's short name, by key (a factor's name).
    names: Mapping[str, str]
    #: Each question as a person is asked it, by key.
    questions: Mapping[str, str]
    #: What a scale's end codes mean, by key and code (empty for other questions).
    anchors: Mapping[str, Mapping[int, str]]
    #: Each answer as a factor names it, by key and code (a scale's with its anchor).
    answer_labels: Mapping[str, Mapping[int, str]]
    #: The support block as replies carry it (message, contacts, notice), dumped once.
    support: dict[str, Any]
    risk_levels: Mapping[str, str]

    def say(self, value: Any) -> Any:
        """`value` (a Message, or a structure holding some) in this language."""
        return value if self.language == SOURCE_LANGUAGE else said(value, self.translate)


@dataclass(frozen=True)
class Speeches:
    """Every language's Speech, and the one for clients that ask for none."""

    by_language: Mapping[str, Speech]
    unasked: Speech

    def all(self) -> list[Speech]:
        """Every Speech a reply may speak in."""
        return [*self.by_language.values(), self.unasked]

    def for_request(self, environ: Mapping[str, Any]) -> Speech:
        """The Speech of the reply to the request of this WSGI environ."""
        header = environ.get("HTTP_ACCEPT_LANGUAGE")
        query = environ.get("QUERY_STRING")
        if not header and not query:
            return self.unasked
        language = negotiate(
            _read_prefix(header) if header else None,
            _query_language(query) if query else None,
        )
        return self.unasked if language is None else self.by_language[language]


#: How much of Accept-Language is read: a real one names a few languages in well under this;
#: the server takes dozens of header lines of 8 KB (gunicorn.conf.py's limit_request_fields,
#: joined when repeated), which would otherwise cost the worker a long parse, and as many cache
#: keys.
ACCEPT_LANGUAGE_READ = 256
#: The longest `?lang=` value read (a language tag is a few characters).
QUERY_LANGUAGE_READ = 35


def _read_prefix(header: str) -> str:
    """The part of Accept-Language that is read: its first ACCEPT_LANGUAGE_READ characters, up
    to the last whole item within them."""
    if len(header) <= ACCEPT_LANGUAGE_READ:
        return header
    return header[: ACCEPT_LANGUAGE_READ + 1].rpartition(",")[0]


def _query_language(query: str) -> str | None:
    """The (first) value of ?lang= in a query string, if it has one."""
    if f"{QUERY_PARAMETER}=" not in query:
        return None
    value = next((value for name, value in parse_qsl(query) if name == QUERY_PARAMETER), None)
    return value[:QUERY_LANGUAGE_READ] if value is not None else None


@functools.lru_cache(maxsize=64)
def negotiate(header: str | None, query: str | None) -> str | None:
    """The language of the reply: `?lang=` if it names one the service speaks, else the best of
    Accept-Language's, else English; None when the client asks for none at all.

    Cached, in a few entries of bounded keys (the callers read a bounded prefix): clients send
    few distinct headers (a browser, an app build), and parsing one costs several times what
    the rest of the choice does.
    """
    if not header and not query:
        return None
    for preferences in (query, header):
        if preferences and (best := _best_spoken(preferences)) is not None:
            return best
    return SOURCE_LANGUAGE


def _best_spoken(preferences: str) -> str | None:
    """The language the service speaks that `preferences` (an Accept-Language value) rates
    highest, a regional tag standing for its language (RFC 4647's lookup): `en-US,id;q=0.5`
    is English. Werkzeug's `best_match` would take the exact `id` over the regional `en-US`,
    whatever their quality values."""
    rated = parse_accept_header(preferences, LanguageAccept)
    for tag, quality in sorted(rated, key=lambda rating: -rating[1]):
        language = tag.replace("_", "-").split("-", 1)[0].lower()  # id_ID: Java's Locale
        if quality > 0 and language in _MATCHES:
            return ALIASES.get(language, language)
    return None


def prepare(support: Mapping[str, dict[str, Any]]) -> Speeches:
    """Each language's Speech, from the catalogs and the questionnaire, with the support block
    that replies in it carry (`support`, by language: api/support.py)."""
    by_language = {}
    for language in LANGUAGES:
        translate = catalog(language).gettext
        labels = {
            question.key: {option.code: option.label(language) for option in question.options}
            for question in QUESTIONS
        }
        answer_labels = {
            question.key: {code: question.answer_label(code, language) for code in question.codes}
            for question in QUESTIONS
        }
        speech = Speech(
            language=language,
            asked=True,
            translate=translate,
            labels=labels,
            names={question.key: question.name(language) for question in QUESTIONS},
            questions={question.key: question.text(language) for question in QUESTIONS},
            anchors={question.key: question.anchor_labels(language) for question in QUESTIONS},
            answer_labels=answer_labels,
            support=support[language],
            risk_levels={level: translate(text) for level, text in texts.RISK_LEVELS.items()},
        )
        by_language[language] = speech
    unasked = by_language[SOURCE_LANGUAGE]
    return Speeches(by_language, Speech(**{**unasked.__dict__, "asked": False}))


#: The Speech of the reply being made, for the fields of the reply schemas (marshmallow's way
#: to hand a dump its context); set by `speaking` around a view and its dump, and only there.
_CURRENT: ContextVar[Speech] = ContextVar("soulsync_speech")


def current() -> Speech:
    """The Speech of the reply being made (within a `speaking` view, or `speaking_as`)."""
    return _CURRENT.get()


#: Where a request keeps the Speech chosen for its reply: its WSGI environ, which lives exactly
#: as long as the request (WSGI's namespaced key for what an application adds).
_CHOSEN = "soulsync.speech"


def for_request() -> Speech:
    """The Speech of this request's reply, negotiated from its headers and query once per
    request (a view's reply and an error's both ask). A reply that spoke says so in its
    headers (`name_in`)."""
    environ = request.environ
    speech = environ.get(_CHOSEN)
    if speech is None:
        speech = environ[_CHOSEN] = current_app.extensions[EXTENSION].for_request(environ)
    return speech


def name_in(response: Response) -> Response:
    """Say in the headers of a reply that spoke (a view's, or an error's) which language it
    speaks, and that Accept-Language chose it (for caches). Neither header is there yet, so
    both are added without a look-up; flask-cors, later, merges its own Vary into this one.
    An after_request hook of the app (api/headers.py)."""
    speech = request.environ.get(_CHOSEN)
    if speech is not None:
        response.headers.add("Content-Language", speech.language)
        response.headers.add("Vary", "Accept-Language")
    return response


def speaking(view: Callable[..., Response]) -> Callable[..., Response]:
    """A view (with its flask-smorest decorators below) whose reply speaks to a person: it and
    its dump run in the reply's language (`current`)."""

    @functools.wraps(view)
    def speaking_view(*args: Any, **kwargs: Any) -> Response:
        token = _CURRENT.set(for_request())
        try:
            return view(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    return speaking_view


@contextlib.contextmanager
def speaking_as(speech: Speech) -> Iterator[None]:
    """Dump replies in `speech`'s language outside any request (the documented examples)."""
    token = _CURRENT.set(speech)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def init_app(app: Flask, support: Mapping[str, dict[str, Any]]) -> Speeches:
    """Prepare every language's Speech, with the support block of this app's settings."""
    speeches = prepare(support)
    app.extensions[EXTENSION] = speeches
    return speeches

"""Replies in the language of the person who reads them.

The goal: every endpoint, and every error a client can cause, asked in Indonesian, says nothing
in English but the contract's two strings; asked in nothing, it says what it said before.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from babel.messages.pofile import read_po

from soulsync import event_loop, texts
from soulsync.api import language
from soulsync.app import create_app
from soulsync.config import ConfigError, check_support, from_environment
from soulsync.questionnaire import CONTRACT_EXAMPLE, NEGATIVE_RESULT, POSITIVE_RESULT
from soulsync.translations import DOMAIN, FOLDER, LANGUAGES, SOURCE_LANGUAGE

TRANSLATED = [language for language in LANGUAGES if language != SOURCE_LANGUAGE]
CONTRACT_STRINGS = {"Prediction successful", POSITIVE_RESULT, NEGATIVE_RESULT}
#: Fields for programs, the same in every language: the HTTP status's name in an error
#: (`status`, like `code`), a prediction's `status` ("success"), and codes and versions.
FOR_PROGRAMS = {
    "status",
    "result",
    "risk_level",
    "key",
    "kind",
    "language",
    "model_version",
    "version",
    "docs",
    "openapi",
    "phone",
}
#: Endpoints for developers and operators, not for the person screened: English only, and
#: they claim no language (no Content-Language).
FOR_DEVELOPERS = ["/model", "/monitoring", "/metrics", "/openapi.json", "/docs", "/reference"]
SUPPORT_DUE = {**CONTRACT_EXAMPLE, "SuicidalTh": 1}
KEY = "a-key-for-the-test"
#: Replies with no text for a person (probes): they claim no language.
SILENT = {"health", "ready"}


def _words(text: str) -> set[str]:
    """The words of a text, lowercase; an identifier written in CamelCase (JSONDecodeError) is
    its words (json, decode, error)."""
    found = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+", text)
    return {word.lower() for word in found if len(word) >= 2}


def english_only_words(language: str) -> set[str]:
    """Words of the English texts that no text of `language` uses (JSON, API, URL and such are
    both), and the common English words of the messages of Flask, werkzeug and marshmallow."""
    with (FOLDER / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as file:
        catalog = read_po(file)
    english = set().union(*(_words(m.id) for m in catalog if m.id))
    translated = set().union(*(_words(m.string) for m in catalog if m.id))
    # Not "valid": Indonesian too (KBBI), and what Indonesian software says ("tidak valid").
    common = {"the", "is", "not", "of", "to", "and", "or", "be", "may", "must", "field"}
    return (english - translated) | common


ENGLISH_ONLY = {language: english_only_words(language) for language in TRANSLATED}


def english_in(reply: Any, language: str, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every text of a reply in `language` that a person may read and that holds English."""
    if isinstance(reply, dict):
        for key, value in reply.items():
            if key not in FOR_PROGRAMS:
                yield from english_in(value, language, (*path, key))
    elif isinstance(reply, list):
        for index, value in enumerate(reply):
            yield from english_in(value, language, (*path, index))
    elif isinstance(reply, str):
        english = reply not in CONTRACT_STRINGS and _words(reply) & ENGLISH_ONLY[language]
        if english:
            yield path, reply


class SlowBody(io.BytesIO):
    """A body whose bytes never come (the client went quiet after the head)."""

    def read(self, size: int | None = -1) -> bytes:
        gevent.sleep(5)
        return b""

    def readinto(self, buffer: Any) -> int:
        return len(self.read())


class BrokenBody(io.BytesIO):
    """A body the server cannot read (a framing error)."""

    def read(self, size: int | None = -1) -> bytes:
        raise OSError("malformed chunk")

    def readinto(self, buffer: Any) -> int:
        return len(self.read())


def _json(body: Any) -> dict[str, Any]:
    return {"data": json.dumps(body), "content_type": "application/json"}


def _raw(data: bytes) -> dict[str, Any]:
    return {"data": data, "content_type": "application/json"}


def _chunked(stream: io.BytesIO) -> dict[str, Any]:
    """A body sent in chunks: without Content-Length (as a WSGI server hands it on)."""
    return {
        "input_stream": stream,
        "content_type": "application/json",
        "environ_overrides": {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    }


BAD_ANSWERS = {**CONTRACT_EXAMPLE, "Pressure": 9, "Gender": None, "SleepDr": "maybe"}
del BAD_ANSWERS["FamHistory"]
#: Every way a client reaches an endpoint or gets an error: (name, method, path, request,
#: status). The app has API keys only for the 401s, and the metrics port for the 404 there.
CASES = [
    ("welcome", "GET", "/", {}, 200),
    ("questionnaire", "GET", "/questionnaire", {}, 200),
    ("prediction", "POST", "/prediction/", _json(CONTRACT_EXAMPLE), 200),
    ("prediction with support", "POST", "/predict", _json(SUPPORT_DUE), 200),
    ("batch", "POST", "/predict/batch", _json({"questionnaires": [SUPPORT_DUE] * 2}), 200),
    ("health", "GET", "/health", {}, 200),
    ("ready", "GET", "/readyz", {}, 200),
    ("400 empty", "POST", "/predict", _raw(b" "), 400),
    ("400 not JSON", "POST", "/predict", _raw(b"{"), 400),
    ("400 repeated key", "POST", "/predict", _raw(b'{"a": 1, "a": 2}'), 400),
    ("400 NaN", "POST", "/predict", _raw(b'{"Pressure": NaN}'), 400),
    ("400 too deep", "POST", "/predict/batch", _raw(b"[" * 3000 + b"]" * 3000), 400),
    ("400 too many objects", "POST", "/predict/batch", _raw(b"[{}]" * 4003), 400),
    ("400 unreadable value", "POST", "/predict/batch", _raw(b"[" + b"9" * 5000 + b"]"), 400),
    ("400 unreadable body", "POST", "/predict", _chunked(BrokenBody()), 400),
    ("404", "GET", "/nowhere", {}, 404),
    ("405", "DELETE", "/predict", {}, 405),
    ("411", "POST", "/predict/batch", _chunked(io.BytesIO(b" " * 20_000)), 411),
    ("413", "POST", "/predict", _raw(b" " * 5000), 413),
    ("415", "POST", "/predict", {"data": "{}", "content_type": "text/plain"}, 415),
    ("422 answers", "POST", "/prediction/", _json(BAD_ANSWERS), 422),
    ("422 not an object", "POST", "/predict", _json([CONTRACT_EXAMPLE]), 422),
    ("422 batch missing", "POST", "/predict/batch", _json({}), 422),
    ("422 batch null", "POST", "/predict/batch", _json({"questionnaires": None}), 422),
    ("422 batch not a list", "POST", "/predict/batch", _json({"questionnaires": 1}), 422),
    ("422 batch empty", "POST", "/predict/batch", _json({"questionnaires": []}), 422),
    (
        "422 batch items",
        "POST",
        "/predict/batch",
        _json({"questionnaires": [None, 3, BAD_ANSWERS, *[{}] * 12]}),
        422,
    ),
]
KEYED_CASES = [
    ("401 no key", "GET", "/", {}, 401),
    ("401 wrong key", "GET", "/questionnaire", {"headers": {"X-API-Key": "wrong"}}, 401),
    ("404 metrics", "GET", "/metrics", {"headers": {"X-API-Key": KEY}}, 404),
]


@pytest.fixture(scope="module")
def clients() -> dict[str, Any]:
    keyed = create_app({"TESTING": True, "API_KEYS": [KEY], "METRICS_PORT": 9999})
    timed = create_app({"TESTING": True})
    # gunicorn's gevent worker wraps the app in the deadline; here with a short one.
    timed.wsgi_app = event_loop.RequestDeadline(timed.wsgi_app, 0.05)
    return {
        "open": create_app({"TESTING": True}).test_client(),
        "keyed": keyed.test_client(),
        "timed": timed.test_client(),
    }


ALL_CASES = [
    *[("open", *case) for case in CASES],
    *[("keyed", *case) for case in KEYED_CASES],
    ("timed", "408", "POST", "/predict", _chunked(SlowBody()), 408),
]


def _ask(clients: dict, which: str, method: str, path: str, request: dict, asking: dict) -> Any:
    request = dict(request)
    if "input_stream" in request:  # a stream is read once: each request gets its own
        stream = request["input_stream"]
        request["input_stream"] = type(stream)(stream.getvalue())
    headers = {**request.pop("headers", {}), **asking.get("headers", {})}
    path += asking.get("query", "")
    return clients[which].open(path, method=method, headers=headers, **request)


def asking(language: str, how: str) -> dict[str, Any]:
    if how == "lang":
        return {"query": f"?lang={language}"}
    return {"headers": {"Accept-Language": f"{language};q=0.9,en;q=0.8"}}


@pytest.mark.parametrize("how", ["Accept-Language", "lang"])
@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize(
    ("which", "name", "method", "path", "request_", "status"), ALL_CASES, ids=lambda v: v
)
def test_replies_in_another_language_say_nothing_in_english(
    clients, language, how, which, name, method, path, request_, status
) -> None:
    """Asked in Indonesian (or any language of the catalogs), a reply
    holds no English sentence apart from the contract's two strings, whatever the endpoint or
    the error."""
    response = _ask(clients, which, method, path, request_, asking(language, how))
    assert response.status_code == status, response.get_data(as_text=True)
    reply = response.get_json()
    assert list(english_in(reply, language)) == []
    english = _ask(clients, which, method, path, request_, {})
    assert english.status_code == status
    if name in SILENT:
        assert "Content-Language" not in response.headers
        return
    assert response.headers["Content-Language"] == language
    assert "Accept-Language" in response.vary
    assert english.headers["Content-Language"] == "en"
    if status >= 400:  # the errors' shape, keys and codes are the same in every language
        assert set(reply) == set(english.get_json()) >= {"code", "status", "message"}
        assert reply["code"] == status and reply["message"] != english.get_json()["message"]


#: Every kind of bad answer, as its JSON text: the value a client sends in place of an answer.
BAD_ANSWER_KINDS = {
    "list": "[1]",
    "object": '{"code": 1}',
    "string": '"sometimes"',
    "number out of range": "9",
    "negative number": "-1",
    "fraction": "2.5",
    "null": "null",
    "bool": "true",
    "huge exponent": "1e999999999",
    "tiny exponent": "1e-400",
    "nested": '[[{"a": [1]}]]',
    "empty string": '""',
    "missing": None,
}
#: A scale question and a categorical one: their errors list what they accept differently.
BAD_ANSWER_KEYS = ["Pressure", "SleepDr"]
SCREENING_PATHS = ["/predict", "/prediction/", "/predict/batch"]


def _questionnaire_with(key: str, value: str | None) -> str:
    """The contract example as JSON text, with `value` (JSON text) as `key`'s answer, or
    without `key` when `value` is None."""
    answers = [(k, json.dumps(v)) for k, v in CONTRACT_EXAMPLE.items()]
    fields = [f"{json.dumps(k)}: {value if k == key else v}" for k, v in answers]
    if value is None:
        fields = [f"{json.dumps(k)}: {v}" for k, v in answers if k != key]
    return "{" + ", ".join(fields) + "}"


@pytest.mark.parametrize("path", SCREENING_PATHS)
@pytest.mark.parametrize("key", BAD_ANSWER_KEYS)
@pytest.mark.parametrize("kind", BAD_ANSWER_KINDS)
@pytest.mark.parametrize("language", TRANSLATED)
def test_every_kind_of_bad_answer_is_named_without_english(
    client, language: str, kind: str, key: str, path: str
) -> None:
    """Whatever a client sends in place of an answer, the 422 in Indonesian names the answer,
    and nothing a person reads in it is English."""
    body = _questionnaire_with(key, BAD_ANSWER_KINDS[kind])
    if path.endswith("batch"):
        body = '{"questionnaires": [' + body + "]}"
    response = client.post(path, headers={"Accept-Language": language}, **_raw(body.encode()))
    assert response.status_code == 422, response.get_data(as_text=True)
    reply = response.get_json()
    errors = reply["errors"]["json"]
    named = errors["questionnaires"]["0"] if path.endswith("batch") else errors
    assert list(named) == [key]
    assert list(english_in(reply, language)) == []


def test_the_english_word_check_finds_english() -> None:
    """The check above can fail: an untranslated message, marshmallow's or ours, is found."""
    found = list(english_in({"message": texts.NOT_FOUND}, "id"))
    assert found == [(("message",), texts.NOT_FOUND)]
    assert list(english_in({"errors": {"json": {"x": ["Not a valid integer."]}}}, "id"))
    assert list(english_in({"message": "URL yang diminta tidak ditemukan di server."}, "id")) == []
    # English inside an Indonesian sentence, and a Python class name, are found too.
    assert list(english_in({"x": ["Nilai of type array tidak valid"]}, "id"))
    assert list(english_in({"message": "Isi permintaan bukan JSON (JSONDecodeError)."}, "id"))


@pytest.mark.parametrize("path", FOR_DEVELOPERS)
def test_developer_pages_claim_no_language(client, path: str) -> None:
    response = client.get(path, headers={"Accept-Language": "id"})
    assert response.status_code == 200
    assert "Content-Language" not in response.headers


def test_a_person_with_suicidal_thoughts_gets_the_indonesian_support_block(client) -> None:
    """Whom to call (119 first, reachable in every district), where to go, who to be with, and
    hope; the mental-health line under its current name, with the extension said in words."""
    reply = client.post("/predict", json=SUPPORT_DUE, headers={"Accept-Language": "id"})
    support = reply.get_json()["support"]
    message = support["message"]
    assert message.startswith("Anda tidak perlu menghadapi ini sendirian.")
    assert "IGD rumah sakit terdekat" in message and "orang yang Anda percayai" in message
    assert "keadaan bisa membaik" in message
    assert [c["phone"] for c in support["contacts"]] == ["119", "112", "119"]
    emergency, district, mental_health = support["contacts"]
    assert emergency["name"].startswith("Gawat darurat medis dan ambulans")
    assert "bila sudah tersedia di daerah Anda" in district["name"]
    assert (
        "Healing119" in mental_health["name"]
        and "telepon 119 lalu tekan 8" in mental_health["name"]
    )
    assert mental_health["url"] == "https://healing119.id"
    assert support["notice"].startswith("Ini hasil skrining, bukan diagnosis.")
    assert all(who in support["notice"] for who in ("dokter", "psikolog klinis", "psikiater"))
    body = reply.get_json()
    assert body["message"] == "Prediction successful" and body["result"] in CONTRACT_STRINGS
    assert body["risk_level_text"].startswith("Risiko")


def test_the_old_backends_call_gets_the_same_bytes(app, client) -> None:
    """No Accept-Language, no ?lang=: the reply is English, the same document as before the
    service spoke other languages (no risk_level_text), whichever language the catalog has."""
    unasked = client.post("/predict", json=SUPPORT_DUE)
    english = client.post("/predict", json=SUPPORT_DUE, headers={"Accept-Language": "en"})
    assert "risk_level_text" not in unasked.get_json()
    assert {
        **unasked.get_json(),
        "risk_level_text": "High risk",
    }.keys() == english.get_json().keys()
    assert unasked.get_json().items() <= english.get_json().items()
    contacts = unasked.get_json()["support"]["contacts"]
    assert contacts == [dict(contact) for contact in texts.SUPPORT_CONTACTS]
    assert unasked.headers["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("id", "id"),
        ("id-ID", "id"),
        ("in-ID", "id"),  # Android's old code for Indonesian
        ("in_ID", "id"),  # as Java's Locale.toString() writes it
        ("id_ID,en;q=0.5", "id"),
        ("en-US,en;q=0.9,id;q=0.8", "en"),
        ("en-US,id;q=0.5", "en"),  # a regional tag stands for its language
        ("EN-gb,ID;q=0.9", "en"),
        ("fr,id-ID;q=0.8,en;q=0.5", "id"),
        ("id;q=0.5,en;q=0.9", "en"),
        ("fr-FR,id;q=0.3", "id"),
        ("fr", "en"),  # a language the service does not speak: English, never an error
        ("*", "en"),
        ("id;q=0", "en"),
        ("not a language tag;;q=x", "en"),
    ],
)
def test_accept_language_is_negotiated_with_its_quality_values(client, header, language) -> None:
    response = client.get("/questionnaire", headers={"Accept-Language": header})
    assert response.status_code == 200
    assert response.get_json()["language"] == response.headers["Content-Language"] == language


def test_only_the_start_of_a_long_accept_language_is_read(client) -> None:
    """A real Accept-Language names a few languages; the server takes a hundred lines of 8 KB,
    joined. Only the start is read, so such a header costs what a short one does, and what
    is read is cut at a whole item."""
    filler = ",".join(["xx"] * 4000)
    ahead = client.get("/", headers={"Accept-Language": f"fr,id;q=0.9,{filler}"})
    assert ahead.headers["Content-Language"] == "id"
    behind = client.get("/", headers={"Accept-Language": f"{filler},id"})
    assert behind.status_code == 200 and behind.headers["Content-Language"] == "en"
    cut = "x" * (language.ACCEPT_LANGUAGE_READ - 8) + ",id;q=0.9"  # the q value past the cut
    assert client.get("/", headers={"Accept-Language": cut}).headers["Content-Language"] == "en"
    lang = client.get("/?lang=" + "id" + "-x" * 2000)
    assert lang.status_code == 200 and lang.headers["Content-Language"] == "id"


def test_distinct_long_headers_cannot_fill_the_cache(client) -> None:
    """Each distinct header was a cache key of its own, as long as it was sent: the cache holds
    a few entries, each of the bounded part that is read."""
    language.negotiate.cache_clear()
    for number in range(300):
        header = f"{number}-" + "a" * 8000
        client.get("/", headers={"Accept-Language": header})
    info = language.negotiate.cache_info()
    assert info.currsize <= info.maxsize <= 64


def test_lang_comes_before_the_header_and_falls_back_to_it(client) -> None:
    both = {"headers": {"Accept-Language": "en"}}
    assert client.get("/?lang=id", **both).headers["Content-Language"] == "id"
    assert client.get("/?lang=fr", **both).headers["Content-Language"] == "en"
    fallback = client.get("/?lang=fr", headers={"Accept-Language": "id"})
    assert fallback.headers["Content-Language"] == "id"


def test_support_texts_are_set_per_language() -> None:
    app = create_app(
        {
            "TESTING": True,
            "SUPPORT_MESSAGE_ID": "Hubungi kami.",
            "SUPPORT_CONTACTS_ID": [{"name": "Layanan kampus", "phone": "123"}],
        }
    )
    client = app.test_client()
    indonesian = client.post("/predict", json=SUPPORT_DUE, headers={"Accept-Language": "id"})
    english = client.post("/predict", json=SUPPORT_DUE)
    assert indonesian.get_json()["support"]["message"] == "Hubungi kami."
    assert indonesian.get_json()["support"]["contacts"] == [
        {"name": "Layanan kampus", "phone": "123"}
    ]
    assert english.get_json()["support"]["message"] == texts.SUPPORT_MESSAGE


@pytest.mark.parametrize(
    ("setting", "twin", "own"),
    [
        ("SUPPORT_MESSAGE", "SUPPORT_MESSAGE_ID", "Call the campus line."),
        ("SUPPORT_CONTACTS", "SUPPORT_CONTACTS_ID", [{"name": "Campus line", "phone": "555"}]),
    ],
)
def test_english_support_settings_of_ones_own_need_their_twin(setting, twin, own) -> None:
    """A text of one's own is in no catalog: without its Indonesian twin, Indonesian replies
    would show it in English, so the service refuses to start, naming both variables; with
    the twin it starts and each language shows its own."""
    with pytest.raises(ConfigError, match=f"SOULSYNC_{setting} is set and SOULSYNC_{twin} is not"):
        create_app({"TESTING": True, setting: own})
    with pytest.raises(ConfigError, match=f"SOULSYNC_{twin}"):
        written = own if isinstance(own, str) else json.dumps(own)
        check_support(from_environment({f"SOULSYNC_{setting}": written}))
    translated = "Hubungi layanan kampus." if setting == "SUPPORT_MESSAGE" else [
        {"name": "Layanan kampus", "phone": "555"}
    ]  # fmt: skip
    client = create_app({"TESTING": True, setting: own, twin: translated}).test_client()
    field = "message" if setting == "SUPPORT_MESSAGE" else "contacts"
    indonesian = client.post("/predict", json=SUPPORT_DUE, headers={"Accept-Language": "id"})
    assert indonesian.get_json()["support"][field] == translated
    assert client.post("/predict", json=SUPPORT_DUE).get_json()["support"][field] == own


def test_the_default_support_settings_need_no_twin() -> None:
    """The defaults are in the catalogs: set to the default, an English setting is no text of
    one's own."""
    default = json.dumps([dict(contact) for contact in texts.SUPPORT_CONTACTS])
    check_support(from_environment({"SOULSYNC_SUPPORT_CONTACTS": default}))


@pytest.mark.parametrize("label", ["Laki-laki", "laki-laki", " Male "])
def test_answers_are_accepted_as_labels_in_every_language(client, label: str) -> None:
    reply = client.post("/predict", json={**CONTRACT_EXAMPLE, "Gender": label})
    assert reply.status_code == 200


def test_factors_are_named_and_scales_said_in_words(client) -> None:
    """A factor an Indonesian reader can read: the question's short name, and a scale's answer
    as "4 dari 5 (5 = sangat tinggi)" rather than a bare number."""
    body = {**SUPPORT_DUE, "Pressure": 5, "FinancialStress": 5, "DietHabits": 1}
    reply = client.post("/predict", json=body, headers={"Accept-Language": "id"}).get_json()
    factors = {factor["key"]: factor for factor in reply["factors"]}
    assert factors["Pressure"]["name"] == "Tekanan akademik/kerja"
    assert factors["Pressure"]["answer_label"] == "5 dari 5 (5 = sangat tinggi)"
    assert factors["Pressure"]["reference_label"] == "1 dari 5 (5 = sangat tinggi)"
    assert factors["SuicidalTh"]["name"] == "Pikiran bunuh diri"
    assert factors["SuicidalTh"]["answer_label"] == "Ya"
    english = {f["key"]: f for f in client.post("/predict", json=body).get_json()["factors"]}
    assert english["Pressure"]["name"] == "Academic or work pressure"
    assert english["Pressure"]["answer_label"] == "5 of 5 (5 = very high)"

"""A hand-written corpus of hostile requests: each gets its documented 4xx, as JSON, with no
stack trace or internal path in the reply."""

from __future__ import annotations

import json

import pytest

from soulsync.questionnaire import CONTRACT_EXAMPLE

VALID = json.dumps(CONTRACT_EXAMPLE)
BODY = VALID[1:-1]  # the ten pairs, without braces
JSON = "application/json"

#: Over one questionnaire's limit (4 KiB), within a batch's: refused unread on /predict.
LARGE = {"/predict": 413, "/predict/batch": 400}

CORPUS: list[tuple[str, bytes | str, str, int | dict[str, int]]] = [
    ("deep-array", "[" * 100_000 + "]" * 100_000, JSON, LARGE),
    ("deep-object", '{"a":' * 50_000 + "1" + "}" * 50_000, JSON, LARGE),
    ("deep-inside-answer", "{" + BODY + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}", JSON, LARGE),
    ("deep-within-size", "[" * 2000 + "]" * 2000, JSON, 400),
    ("huge-integer", VALID.replace('"Pressure": 4', '"Pressure": ' + "9" * 10_000), JSON, LARGE),
    ("big-integer", VALID.replace('"Pressure": 4', '"Pressure": ' + "9" * 300), JSON, 422),
    ("huge-float", VALID.replace('"Pressure": 4', '"Pressure": 1e400'), JSON, 422),
    ("tiny-float", VALID.replace('"Pressure": 4', '"Pressure": 4e-400'), JSON, 422),
    ("negative-zero", VALID.replace('"SuicidalTh": 0', '"SuicidalTh": -0'), JSON, 200),
    ("nan", VALID.replace('"Pressure": 4', '"Pressure": NaN'), JSON, 400),
    ("infinity", VALID.replace('"Pressure": 4', '"Pressure": Infinity'), JSON, 400),
    ("minus-infinity", VALID.replace('"Pressure": 4', '"Pressure": -Infinity'), JSON, 400),
    ("nan-string", VALID.replace('"Pressure": 4', '"Pressure": "NaN"'), JSON, 422),
    ("infinity-string", VALID.replace('"Pressure": 4', '"Pressure": "inf"'), JSON, 422),
    ("unicode-keys", "{" + BODY + ', "Tekanan\u00e9\u4e2d\U0001f600": 1}', JSON, 200),
    ("unicode-lookalike-key", VALID.replace('"Gender"', '"G\u0435nder"'), JSON, 422),
    ("unicode-value", VALID.replace('"Gender": 1', '"Gender": "\u004d\u0430le"'), JSON, 422),
    ("null-byte-value", VALID.replace('"Gender": 1', '"Gender": "Male\\u0000"'), JSON, 422),
    ("lone-surrogate", VALID.replace('"Gender": 1', '"Gender": "\\ud800"'), JSON, 422),
    ("array-body", "[" + VALID + "]", JSON, 422),
    (
        "array-of-pairs",  # read (a body of its size buys no work), then not a questionnaire
        json.dumps(list(CONTRACT_EXAMPLE.items())),
        JSON,
        422,
    ),
    ("number-body", "42", JSON, 422),
    ("string-body", '"Gender=1"', JSON, 422),
    ("null-body", "null", JSON, 422),
    ("true-body", "true", JSON, 422),
    ("empty-object", "{}", JSON, 422),
    ("duplicate-key", "{" + BODY + ', "Pressure": 9}', JSON, 400),
    ("duplicate-key-same-value", "{" + BODY + ', "Pressure": 4}', JSON, 400),
    ("empty-body", "", JSON, 400),
    ("whitespace-body", " \n\t ", JSON, 400),
    ("truncated", VALID[:-1], JSON, 400),
    ("trailing-garbage", VALID + "}", JSON, 400),
    ("two-documents", VALID + VALID, JSON, 400),
    ("single-quotes", VALID.replace('"', "'"), JSON, 400),
    ("comments", "/* hi */" + VALID, JSON, 400),
    ("bom", "\ufeff" + VALID, JSON, 400),
    (
        "latin1-bytes",
        VALID.replace('"Gender": 1', '"Gender": "M\u00e4le"').encode("latin-1"),
        JSON,
        400,
    ),
    ("utf16", VALID.encode("utf-16"), JSON, 400),
    ("text-plain", VALID, "text/plain", 415),
    ("form", "Gender=1&Pressure=4", "application/x-www-form-urlencoded", 415),
    ("multipart", "--x\r\n\r\n" + VALID + "\r\n--x--", "multipart/form-data; boundary=x", 415),
    ("xml", "<Gender>1</Gender>", "application/xml", 415),
    ("no-content-type", VALID, "", 415),
    ("json-suffix-type", VALID, "application/vnd.soulsync+json", 200),
    ("json-charset", VALID, "application/json; charset=utf-8", 200),
    ("ten-megabytes", "{" + BODY + ', "pad": "' + "x" * 10_000_000 + '"}', JSON, 413),
    (
        "many-extra-keys",
        "{" + BODY + "".join(f', "k{i}": {i}' for i in range(20_000)) + "}",
        JSON,
        {"/predict": 413, "/predict/batch": 200},
    ),
    (
        "some-extra-keys",
        "{" + BODY + "".join(f', "k{i}": {i}' for i in range(100)) + "}",
        JSON,
        200,
    ),
    ("object-answer", VALID.replace('"Gender": 1', '"Gender": {"$gt": 0}'), JSON, 422),
    ("boolean-answers", VALID.replace(": 1", ": true").replace(": 0", ": false"), JSON, 422),
    # Numbers and labels that only happen to convert (Python's float(), int(), casefold()):
    ("underflow-to-zero", VALID.replace('"SuicidalTh": 0', '"SuicidalTh": 1e-400'), JSON, 422),
    ("underflow-string", VALID.replace('"SuicidalTh": 0', '"SuicidalTh": "1e-400"'), JSON, 422),
    ("near-integer", VALID.replace('"Pressure": 4', '"Pressure": 4.0000000000000001'), JSON, 422),
    ("huge-exponent", VALID.replace('"Pressure": 4', '"Pressure": 1e999999999'), JSON, 422),
    ("arabic-digit", VALID.replace('"Pressure": 4', '"Pressure": "\u0664"'), JSON, 422),
    ("full-width-digit", VALID.replace('"Pressure": 4', '"Pressure": "\uff14"'), JSON, 422),
    ("math-bold-digit", VALID.replace('"Pressure": 4', '"Pressure": "\U0001d7d2"'), JSON, 422),
    ("underscore-digits", VALID.replace('"WSHours": 8', '"WSHours": "1_2"'), JSON, 422),
    (
        "long-s-label",
        VALID.replace('"WorkOrStudent": 0', '"WorkOrStudent": "\u017ftudent"'),
        JSON,
        422,
    ),
    (
        "kelvin-label",
        VALID.replace('"SleepDr": 2', '"SleepDr": "\u212aurang dari 5 jam"'),
        JSON,
        422,
    ),
    ("integral-float", VALID.replace('"Pressure": 4', '"Pressure": 4.0'), JSON, 200),
    ("integral-exponent", VALID.replace('"Pressure": 4', '"Pressure": 0.4e1'), JSON, 200),
    ("digit-string", VALID.replace('"Pressure": 4', '"Pressure": " 4.0 "'), JSON, 200),
    ("ascii-label", VALID.replace('"SleepDr": 2', '"SleepDr": "KURANG DARI 5 JAM"'), JSON, 200),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_hostile_input_gets_its_documented_status(client, path, body, content_type, status) -> None:
    if isinstance(status, dict):
        status = status[path]
    if path == "/predict/batch" and status in (200, 422) and body.startswith("{"):
        body = '{"questionnaires": [' + body + "]}"
    response = client.post(path, data=body, content_type=content_type or None)
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "Traceback" not in text and "/soulsync/" not in text and ".py" not in text
    if status >= 400:
        reply = response.get_json()
        assert reply["code"] == status and reply["message"]

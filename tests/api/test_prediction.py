"""POST /predict, /prediction/ and /predict/batch through the Flask test client."""

from __future__ import annotations

import json
import random
import re
from urllib.parse import urlsplit

import pytest

from soulsync import texts
from soulsync.api.replies import FactorSchema
from soulsync.app import create_app
from soulsync.inference.model_folder import KERAS_FILE, SHIPPED_MODEL_DIR
from soulsync.questionnaire import BY_KEY, CONTRACT_EXAMPLE, GROUPS, KEYS, QUESTIONS
from soulsync.translations import LANGUAGES

PATHS = ["/predict", "/prediction/"]


def post(client, path: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


@pytest.mark.parametrize("path", PATHS)
def test_contract_example_as_the_old_client_sends_it(client, contract: dict, path: str) -> None:
    # Byte for byte what the old client's axios call sends.
    response = post(client, path, contract["request_body"], "application/json;charset=utf-8")
    assert response.status_code == 200
    reply = response.get_json()
    assert reply["message"] == contract["reply"]["message"]
    assert reply["result"] in contract["reply"]["results"]
    assert reply["result"] == (
        "Depression" if reply["probability"] >= reply["threshold"] else "No Depression"
    )
    assert reply["status"] == "success"
    assert 0.0 < reply["probability"] < 1.0
    assert reply["risk_level"] in ("low", "moderate", "high", "very_high")
    assert (reply["risk_level"] == "low") == (reply["result"] == "No Depression")
    assert "not a diagnosis" in reply["notice"]
    assert reply["factors"] and all(f["key"] in KEYS for f in reply["factors"])


def test_both_paths_give_the_same_reply(client) -> None:
    replies = [post(client, path, CONTRACT_EXAMPLE).get_json() for path in PATHS]
    assert replies[0] == replies[1]


def test_extra_keys_are_ignored(client) -> None:
    plain = post(client, "/predict", CONTRACT_EXAMPLE).get_json()
    extra = post(client, "/predict", {**CONTRACT_EXAMPLE, "userId": "abc", "Age": 30}).get_json()
    assert extra == plain


def test_labels_strings_and_integral_floats_mean_the_same_as_codes(client) -> None:
    as_codes = post(client, "/predict", CONTRACT_EXAMPLE).get_json()
    as_labels = {
        **CONTRACT_EXAMPLE,
        "Gender": "male",
        "WorkOrStudent": "Student",
        "SleepDr": "LESS THAN 5 HOURS",
        "DietHabits": "Cukup sehat",  # Indonesian label
        "SuicidalTh": "No",
        "FamHistory": "yes",
        "Pressure": "4",
        "Satisfaction": 3.0,
        "WSHours": " 8 ",
        "FinancialStress": "3.0",
    }
    assert post(client, "/predict", as_labels).get_json() == as_codes


BAD_VALUES = [
    ("Gender", True, "Invalid value true"),
    ("Pressure", 2.5, "an integer from 1 to 5"),
    ("Pressure", 6, "an integer from 1 to 5"),
    ("Pressure", 0, "an integer from 1 to 5"),
    ("WSHours", 13, "an integer from 0 to 12"),
    ("WSHours", -1, "an integer from 0 to 12"),
    ("SleepDr", 4, "2 (Less than 5 hours), 0 (5-6 hours), 1 (7-8 hours), 3 (More than 8 hours)"),
    ("SleepDr", "9 hours", "one of those labels"),
    ("FinancialStress", "3.5", "an integer from 1 to 5"),
    ("FinancialStress", "high", "an integer from 1 to 5"),
    ("SuicidalTh", None, "May not be null"),
    ("DietHabits", [1], "of type array"),
    ("DietHabits", {"code": 1}, "of type object"),
    ("FamHistory", 10**30, "0 (No), 1 (Yes)"),
]


@pytest.mark.parametrize(
    ("key", "value", "message"), BAD_VALUES, ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES]
)
def test_bad_answer_is_422_naming_the_field(client, key, value, message) -> None:
    response = post(client, "/predict", {**CONTRACT_EXAMPLE, key: value})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert list(errors) == [key]
    assert message in errors[key][0]


@pytest.mark.parametrize("key", KEYS)
def test_missing_answer_is_422_naming_the_field(client, key: str) -> None:
    body = {k: v for k, v in CONTRACT_EXAMPLE.items() if k != key}
    response = post(client, "/prediction/", body)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {
        key: [f"Missing answer: expected {texts.allowed(BY_KEY[key])}."]
    }


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("[1, 2]", "application/json", 422),
        ('"text"', "application/json", 422),
        ("null", "application/json", 422),
        ('{"Gender": 1,', "application/json", 400),
        ("", "application/json", 400),
        ("[" * 1000 + "]" * 1000, "application/json", 400),
        ('{"Gender": ' + "9" * 5000 + "}", "application/json", 413),
        (b"\xff\xfe{}", "application/json", 400),
        ("Gender=1", "application/x-www-form-urlencoded", 415),
        (json.dumps(CONTRACT_EXAMPLE), "text/plain", 415),
    ],
    ids=[
        "array",
        "string",
        "null",
        "truncated",
        "empty",
        "deep",
        "huge-int",
        "bad-utf8",
        "form",
        "text-plain",
    ],
)
def test_malformed_bodies_get_json_errors(client, body, content_type, status) -> None:
    response = post(client, "/predict", body, content_type)
    assert response.status_code == status
    reply = response.get_json()
    assert reply["code"] == status and reply["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_body_over_the_limit_is_413_naming_the_limit(app, client) -> None:
    response = post(client, "/predict", {**CONTRACT_EXAMPLE, "padding": "x" * 5000})
    assert response.status_code == 413
    assert response.get_json()["code"] == 413
    assert "4096 bytes" in response.get_json()["message"]
    app.config["MAX_CONTENT_LENGTH"] = 1000  # the ceiling over every endpoint's own
    response = post(client, "/predict", {**CONTRACT_EXAMPLE, "padding": "x" * 2000})
    assert response.status_code == 413 and "1000 bytes" in response.get_json()["message"]


def test_unknown_path_and_method_are_json(client) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    wrong = client.get("/predict")
    assert wrong.status_code == 405 and wrong.get_json()["code"] == 405
    assert "POST" in wrong.headers["Allow"]


@pytest.mark.parametrize("threshold", [0.999, 0.001])
def test_suicidal_thoughts_always_get_support(app_deciding_at, threshold: float) -> None:
    client = app_deciding_at(threshold).test_client()
    reply = post(client, "/predict", {**CONTRACT_EXAMPLE, "SuicidalTh": 1}).get_json()
    assert reply["result"] == ("No Depression" if threshold > 0.5 else "Depression")
    support = reply["support"]
    assert [c["phone"] for c in support["contacts"]] == ["119", "112", "119"]
    assert support["contacts"][0]["name"].startswith("Medical emergencies and ambulance")
    assert "Healing119" in support["contacts"][2]["name"]
    assert "press 8" in support["contacts"][2]["name"]
    assert support["contacts"][2]["url"] == "https://healing119.id"
    assert "not a diagnosis" in support["notice"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_contact_can_be_dialled_and_opened(client, language: str) -> None:
    """Each phone is what a tel: link dials (digits only), each url an https link, in every
    language; and no contact carries the mental-health line's retired name."""
    reply = client.post(
        "/predict",
        json={**CONTRACT_EXAMPLE, "SuicidalTh": 1},
        headers={"Accept-Language": language},
    ).get_json()
    for contact in reply["support"]["contacts"]:
        assert re.fullmatch(r"[0-9]+", contact["phone"]), contact
        assert "url" not in contact or urlsplit(contact["url"]).scheme == "https"
        assert "SEJIWA" not in contact["name"] and "ext." not in contact["name"]


def test_support_follows_the_result_without_suicidal_thoughts(app_deciding_at) -> None:
    calm = post(app_deciding_at(0.999).test_client(), "/predict", CONTRACT_EXAMPLE).get_json()
    assert calm["result"] == "No Depression" and "support" not in calm
    worried = post(app_deciding_at(0.001).test_client(), "/predict", CONTRACT_EXAMPLE).get_json()
    assert worried["result"] == "Depression" and "support" in worried


def test_support_text_is_configurable() -> None:
    client = create_app(
        {
            "TESTING": True,
            "SUPPORT_MESSAGE": "Call us.",
            "SUPPORT_CONTACTS": [{"name": "Clinic", "phone": "123"}],
            "SUPPORT_MESSAGE_ID": "Hubungi kami.",
            "SUPPORT_CONTACTS_ID": [{"name": "Klinik", "phone": "123"}],
        }
    ).test_client()
    support = post(client, "/predict", {**CONTRACT_EXAMPLE, "SuicidalTh": 1}).get_json()["support"]
    assert support["message"] == "Call us."
    assert support["contacts"] == [{"name": "Clinic", "phone": "123"}]


def _random_questionnaires(count: int, seed: int) -> list[dict[str, int]]:
    chance = random.Random(seed)
    return [{q.key: chance.choice(q.codes) for q in QUESTIONS} for _ in range(count)]


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"TOP_FACTORS": 9, "SUPPORT_MESSAGE": "Call us, " * 40, "SUPPORT_MESSAGE_ID": "Ya. " * 90},
    ],
    ids=["defaults", "long-settings"],
)
def test_every_screening_reply_is_as_long_as_any_other(settings: dict) -> None:
    """TLS hides a reply's bytes, not its length: with or without support, factors or a long
    risk level, in any language, every reply to one questionnaire has one length, and a batch's
    depends on its count alone. The padding is whitespace, invisible to a JSON parser."""
    client = create_app({"TESTING": True, **settings}).test_client()
    questionnaires = _random_questionnaires(300, seed=len(settings))
    questionnaires += [{**CONTRACT_EXAMPLE, "SuicidalTh": answer} for answer in (0, 1)]
    lengths, shown = set(), set()
    for number, answers in enumerate(questionnaires):
        asked = [None, *LANGUAGES][number % (len(LANGUAGES) + 1)]
        headers = {"Accept-Language": asked} if asked else {}
        response = client.post("/predict", json=answers, headers=headers)
        body = response.get_data()
        lengths.add(len(body))
        reply = json.loads(body)
        shown.add(("support" in reply, reply["risk_level"], len(reply["factors"])))
        assert body.rstrip(b" ").endswith(b"}\n")  # spaces after the JSON, and nothing else
    assert len(lengths) == 1
    assert len(shown) >= 6  # replies that differ, made as long as each other
    batches = [_random_questionnaires(12, seed) for seed in range(8)]
    lengths = {len(client.post("/predict/batch", json={"questionnaires": b}).data) for b in batches}
    assert len(lengths) == 1


def test_factors_explain_the_score(client) -> None:
    reply = post(client, "/predict", CONTRACT_EXAMPLE).get_json()
    effects = [abs(f["effect"]) for f in reply["factors"]]
    assert effects == sorted(effects, reverse=True) and len(effects) <= 3
    for factor in reply["factors"]:
        assert factor["answer"] == CONTRACT_EXAMPLE[factor["key"]]
        assert factor["answer"] != factor["reference"]
        assert factor["name"] == BY_KEY[factor["key"]].name()
        # Replacing the answer by the reference must move the probability by the effect.
        swapped = post(
            client, "/predict", {**CONTRACT_EXAMPLE, factor["key"]: factor["reference"]}
        ).get_json()
        assert reply["probability"] - swapped["probability"] == pytest.approx(
            factor["effect"], abs=2e-6
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_factor_holds_what_its_schema_documents(client, language: str) -> None:
    """Factors are built from each language's prepared names and labels, not dumped field by
    field: what they hold must still be the documented fields, with the documented types."""
    schema = FactorSchema()
    reply = post(client, f"/predict?lang={language}", CONTRACT_EXAMPLE).get_json()
    assert reply["factors"]
    for factor in reply["factors"]:
        assert set(factor) == set(schema.fields)
        question = BY_KEY[factor["key"]]
        assert factor["name"] == question.name(language)
        assert {factor["answer"], factor["reference"]} <= set(question.codes)
        assert isinstance(factor["answer_label"], str) and factor["answer_label"]
        assert isinstance(factor["reference_label"], str) and factor["reference_label"]
        assert isinstance(factor["effect"], float)
        assert round(factor["effect"], 6) == factor["effect"]


@pytest.mark.parametrize("group", [0, 1])
def test_the_persons_group_is_never_a_factor(client, group: int) -> None:
    """No one can act on being a student or a professional, and the group's threshold already
    accounts for it: even where it moves the score most, it is not listed."""
    for pressure in range(1, 6):
        body = {**CONTRACT_EXAMPLE, "WorkOrStudent": group, "Pressure": pressure}
        keys = [f["key"] for f in post(client, "/predict", body).get_json()["factors"]]
        assert "WorkOrStudent" not in keys and len(keys) == 3


def test_batch_results_are_in_order(client) -> None:
    variants = [{**CONTRACT_EXAMPLE, "Pressure": p, "SuicidalTh": p % 2} for p in range(1, 6)]
    response = post(client, "/predict/batch", {"questionnaires": variants})
    assert response.status_code == 200
    reply = response.get_json()
    assert reply["count"] == 5
    singles = [post(client, "/predict", v).get_json() for v in variants]
    assert reply["results"] == singles


def test_batch_reports_bad_items_by_index(client) -> None:
    items = [CONTRACT_EXAMPLE, {**CONTRACT_EXAMPLE, "Pressure": 9}, CONTRACT_EXAMPLE, "oops"]
    response = post(client, "/predict/batch", {"questionnaires": items})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]["questionnaires"]
    assert set(errors) == {"1", "3"}
    assert "Pressure" in errors["1"]


def test_batch_limit_is_configurable_and_enforced(app, client) -> None:
    app.config["BATCH_LIMIT"] = 3
    assert (
        post(client, "/predict/batch", {"questionnaires": [CONTRACT_EXAMPLE] * 3}).status_code
        == 200
    )
    response = post(client, "/predict/batch", {"questionnaires": [CONTRACT_EXAMPLE] * 4})
    assert response.status_code == 422
    assert "between 1 and 3" in response.get_json()["errors"]["json"]["questionnaires"][0]
    assert post(client, "/predict/batch", {"questionnaires": []}).status_code == 422


def test_default_batch_limit_takes_five_hundred(client) -> None:
    response = post(client, "/predict/batch", {"questionnaires": [CONTRACT_EXAMPLE] * 500})
    assert response.status_code == 200 and response.get_json()["count"] == 500
    over = post(client, "/predict/batch", {"questionnaires": [CONTRACT_EXAMPLE] * 501})
    assert over.status_code == 422


def test_keras_backend_gives_the_same_answers() -> None:
    pytest.importorskip("keras", reason="the Keras backend needs the 'train' extra")
    lite = create_app({"TESTING": True}).test_client()
    keras_ = create_app({"TESTING": True, "MODEL_PATH": str(SHIPPED_MODEL_DIR / KERAS_FILE)})
    assert keras_.test_client().get("/readyz").get_json()["backend"] == "keras"
    for question in QUESTIONS:
        for code in question.codes:
            body = {**CONTRACT_EXAMPLE, question.key: code}
            a = post(lite, "/predict", body).get_json()
            b = post(keras_.test_client(), "/predict", body).get_json()
            assert abs(a["probability"] - b["probability"]) <= 1e-5
            assert a["result"] == b["result"]


def test_the_documented_example_is_the_served_models_reply(client) -> None:
    """The OpenAPI examples of a reply are what the served model answers to the contract
    example, whichever model that is."""
    examples = client.get("/openapi.json").get_json()["components"]["examples"]
    reply = post(client, "/predict", CONTRACT_EXAMPLE).get_json()
    assert examples["PredictionReply"]["value"] == reply
    batch = post(client, "/predict/batch", {"questionnaires": [CONTRACT_EXAMPLE]}).get_json()
    assert examples["BatchReply"]["value"] == batch


def test_each_reply_applies_its_groups_threshold(client) -> None:
    decision = client.get("/model").get_json()["decision"]["groups"]
    items = [{**CONTRACT_EXAMPLE, "WorkOrStudent": code} for code in sorted(GROUPS)]
    batch = post(client, "/predict/batch", {"questionnaires": items}).get_json()["results"]
    for code, reply in zip(sorted(GROUPS), batch, strict=True):
        assert reply == post(client, "/predict", items[code]).get_json()
        rule = decision[GROUPS[code]]
        assert reply["threshold"] == round(rule["threshold"], 6)
        band_starts = [rule["threshold"], *rule["band_starts"]]
        level = sum(reply["probability"] >= start for start in band_starts)
        assert reply["risk_level"] == ["low", "moderate", "high", "very_high"][level]

"""Welcome, questionnaire, model card and health endpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soulsync.app import create_app
from soulsync.inference.model_folder import CARD_FILE, SHIPPED_MODEL_DIR
from soulsync.metrics import LIVE_MINIMUM_COUNT
from soulsync.questionnaire import CONTRACT_EXAMPLE, QUESTIONS


def test_welcome(client) -> None:
    reply = client.get("/").get_json()
    assert reply["message"] == "Welcome to the SoulSync API"
    assert reply["docs"] == "/docs" and reply["version"] and reply["model_version"]


@pytest.mark.parametrize("lang", ["en", "id"])
def test_questionnaire_serves_the_definition(client, lang: str) -> None:
    reply = client.get(f"/questionnaire?lang={lang}").get_json()
    assert reply["language"] == lang
    assert [q["key"] for q in reply["questions"]] == [q.key for q in QUESTIONS]
    for served, question in zip(reply["questions"], QUESTIONS, strict=True):
        assert served["text"] == question.text(lang)
        assert served["name"] == question.name(lang)
        assert sorted(served["options"], key=lambda o: o["code"]) == [
            {"code": o.code, "label": o.label(lang)} for o in question.options
        ]


def test_sleep_bands_are_listed_shortest_first_with_their_codes(client) -> None:
    """SleepDr's codes are alphabetical (2 is the shortest sleep): the form lists the bands in
    order of hours, each with its own code."""
    questions = {q["key"]: q for q in client.get("/questionnaire?lang=id").get_json()["questions"]}
    assert questions["SleepDr"]["options"] == [
        {"code": 2, "label": "Kurang dari 5 jam"},
        {"code": 0, "label": "5-6 jam"},
        {"code": 1, "label": "7-8 jam"},
        {"code": 3, "label": "Lebih dari 8 jam"},
    ]
    assert [o["code"] for o in questions["DietHabits"]["options"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("lang", "low", "high"),
    [("en", "very low", "very high"), ("id", "sangat rendah", "sangat tinggi")],
)
def test_scales_say_what_their_ends_mean(client, lang: str, low: str, high: str) -> None:
    questions = {
        q["key"]: q for q in client.get(f"/questionnaire?lang={lang}").get_json()["questions"]
    }
    for key in ("Pressure", "Satisfaction", "FinancialStress"):
        assert questions[key]["anchors"] == [{"code": 1, "label": low}, {"code": 5, "label": high}]
    assert questions["WSHours"]["anchors"] == questions["Gender"]["anchors"] == []


def test_questionnaire_defaults_to_english_and_falls_back_to_it(client) -> None:
    """A language the service does not speak is no error: the reply is English."""
    assert client.get("/questionnaire").get_json()["language"] == "en"
    response = client.get("/questionnaire?lang=fr")
    assert response.status_code == 200
    assert response.get_json()["language"] == "en"
    assert response.headers["Content-Language"] == "en"


def test_model_card_is_the_shipped_card(client) -> None:
    served = client.get("/model").get_json()
    assert served == json.loads((SHIPPED_MODEL_DIR / CARD_FILE).read_text())
    assert "not a diagnosis" in served["intended_use"]


def test_health_and_readiness(screener, client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "model_version": screener.version,
        "backend": "tflite",
        "load_seconds": round(screener.load_seconds, 4),
    }
    assert screener.load_seconds > 0


def test_security_headers_and_no_cors_by_default(client) -> None:
    response = client.get("/", headers={"Origin": "https://app.example"})
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options(
        "/predict",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_for_any_origin_when_asked() -> None:
    client = create_app({"TESTING": True, "CORS_ORIGINS": ["*"]}).test_client()
    response = client.get("/", headers={"Origin": "https://app.example"})
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://app.example")


def test_cors_origins_can_be_restricted() -> None:
    client = create_app({"TESTING": True, "CORS_ORIGINS": ["https://ok.example"]}).test_client()
    allowed = client.get("/", headers={"Origin": "https://ok.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    refused = client.get("/", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_monitoring_withholds_figures_until_enough_questionnaires(client) -> None:
    before = client.get("/monitoring").get_json()
    assert before["reference_available"] and "one instance sees only" in before["scope"]
    assert before["group_mix"]["status"] == "too_few"
    for _ in range(99):  # published steps: none yet, and nothing to judge
        client.post("/predict", json=CONTRACT_EXAMPLE)
    assert client.get("/monitoring").get_json()["groups"]["students"]["questionnaires"] == 0
    for _ in range(5):
        client.post("/predict/batch", json={"questionnaires": [CONTRACT_EXAMPLE] * 500})
    after = client.get("/monitoring").get_json()
    students = after["groups"]["students"]
    # All 2,599 published, in five steps (the first batch carries the 99), each count with its
    # own noise (soulsync/metrics.py): enough for the live counts to be judged.
    assert after["cut_offs"]["minimum_count"] == LIVE_MINIMUM_COUNT
    assert abs(students["questionnaires"] - 2_599) <= 60
    # Copies of one questionnaire are nothing like the survey's students.
    assert students["status"] == "shift" and students["flagged_share"] > 0.9
    assert after["groups"]["professionals"]["status"] == "too_few"
    assert after["groups"]["professionals"]["flagged_share"] is None


def test_monitoring_of_a_model_without_a_reference(contract: dict) -> None:
    older = Path(__file__).resolve().parents[1] / "fixtures" / "model-v1" / "model.tflite"
    client = create_app({"TESTING": True, "MODEL_PATH": str(older)}).test_client()
    reply = client.get("/monitoring").get_json()
    assert reply["reference_available"] is False and reply["groups"] == {}
    # The reply is what the document says, reference or not: cut_offs is required there.
    assert reply["cut_offs"] == {
        "watch_from": 0.1,
        "shift_from": 0.25,
        "minimum_count": LIVE_MINIMUM_COUNT,
    }
    assert reply["status"] == "too_few" and reply["group_mix"] is None


def test_cors_can_be_turned_off() -> None:
    from soulsync.config import from_environment

    settings = from_environment({"SOULSYNC_CORS_ORIGINS": "none"})
    client = create_app({"TESTING": True, **settings}).test_client()
    response = client.get("/", headers={"Origin": "https://app.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers

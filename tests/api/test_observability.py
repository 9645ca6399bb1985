"""JSON log lines in Cloud Logging's shape, request ids, traces, metrics; and no answer a
client sends ever reaches a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from soulsync.app import create_app
from soulsync.logs import JsonFormatter
from soulsync.metrics import PUBLISH_EVERY
from soulsync.questionnaire import CONTRACT_EXAMPLE

CANARY = "zq-canary-7731"


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Everything the service logs during the test, and anything that reaches the root logger,
    as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = (logging.getLogger("soulsync"), logging.getLogger())
    for logger in loggers:
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


def test_access_line_has_cloud_logging_shape(client, captured_log) -> None:
    response = client.post(
        "/predict",
        json=CONTRACT_EXAMPLE,
        headers={
            "X-Request-ID": "req-42",
            "X-Cloud-Trace-Context": "0123456789abcdef0123456789abcdef/1;o=1",
        },
    )
    assert response.headers["X-Request-ID"] == "req-42"
    (line,) = [json.loads(x) for x in captured_log.getvalue().splitlines()]
    assert line["severity"] == "INFO"
    assert line["message"] == "POST /predict 200"
    assert line["httpRequest"]["requestMethod"] == "POST"
    assert line["httpRequest"]["requestUrl"] == "/predict"
    assert line["httpRequest"]["status"] == 200
    assert line["httpRequest"]["latency"].endswith("s")
    assert line["request_id"] == "req-42"
    assert line["trace_id"] == "0123456789abcdef0123456789abcdef"
    assert line["model_version"] == response.get_json()["model_version"]
    # Health data stays out of the log: no answer, no score, no result.
    assert not {"result", "results", "probability", "answers"} & set(line)


def test_trace_links_to_the_project_when_configured(captured_log) -> None:
    client = create_app({"TESTING": True, "GCP_PROJECT": "soulsync-prod"}).test_client()
    client.get("/", headers={"X-Cloud-Trace-Context": "0123456789abcdef0123456789abcdef/7"})
    line = json.loads(captured_log.getvalue().splitlines()[-1])
    assert line["logger"] == "soulsync.access"
    assert line["logging.googleapis.com/trace"] == (
        "projects/soulsync-prod/traces/0123456789abcdef0123456789abcdef"
    )


def test_request_ids_are_generated_unless_plain(client) -> None:
    generated = client.get("/").headers["X-Request-ID"]
    assert len(generated) == 32
    hostile = client.get("/", headers={"X-Request-ID": f"{CANARY} <script>"})
    assert hostile.headers["X-Request-ID"] != f"{CANARY} <script>"


def test_no_answer_or_body_reaches_the_logs(client, captured_log) -> None:
    labelled = {**CONTRACT_EXAMPLE, "SleepDr": "Lebih dari 8 jam", "note": CANARY}
    reply = client.post("/predict", json=labelled).get_json()
    client.post("/prediction/", json={**CONTRACT_EXAMPLE, "Pressure": CANARY})
    client.post("/predict/batch", json={"questionnaires": [labelled, {CANARY: 1}]})
    client.post("/predict", data='{"' + CANARY + '": NaN}', content_type="application/json")
    client.post("/predict", data=CANARY, content_type="text/plain")
    client.get(f"/questionnaire?lang={CANARY}")
    client.get(
        f"/{CANARY}?{CANARY}=1", headers={"User-Agent": CANARY, "X-Request-ID": CANARY + "!"}
    )
    text = captured_log.getvalue()
    assert text.count("\n") >= 7  # every request was logged...
    assert CANARY not in text  # ...and nothing it carried
    assert "Lebih dari 8 jam" not in text
    # Nor what the service made of it: no score, no result.
    assert str(reply["probability"]) not in text and "Depression" not in text


def test_metrics_count_requests_and_predictions(client) -> None:
    before = client.get("/metrics").get_data(as_text=True)
    client.post("/predict", json=CONTRACT_EXAMPLE)
    client.post("/predict", json={**CONTRACT_EXAMPLE, "Pressure": 9})
    after = client.get("/metrics").get_data(as_text=True)

    def value(text: str, sample: str) -> float:
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    ok = 'soulsync_http_requests_total{endpoint="/predict",method="POST",status="200"}'
    bad = 'soulsync_http_requests_total{endpoint="/predict",method="POST",status="422"}'
    assert value(after, ok) == value(before, ok) + 1
    assert value(after, bad) == value(before, bad) + 1
    assert "soulsync_http_request_duration_seconds_bucket" in after
    assert "soulsync_model_info{" in after and "soulsync_model_load_seconds" in after
    assert 'soulsync_predictions_total{group="students",model_version=' in after
    assert 'soulsync_answers_total{answer="4",group="students",model_version=' in after


def test_drift_counts_leave_the_process_in_steps_only(client) -> None:
    """One questionnaire's answers and result never show in /metrics or /monitoring: a group's
    counts are published once PUBLISH_EVERY of them have been screened, all at once, each with
    noise of its own (soulsync/metrics.py; its own tests hold the noise to its bound)."""
    predictions = 'soulsync_predictions_total{group="professionals",model_version='

    def published() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        lines = [x for x in text.splitlines() if x.startswith(predictions)]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    professional = {**CONTRACT_EXAMPLE, "WorkOrStudent": 1}
    for _ in range(PUBLISH_EVERY - 1):
        client.post("/predict", json=professional)
    assert published() == 0
    assert client.get("/monitoring").get_json()["groups"]["professionals"]["questionnaires"] == 0
    client.post("/predict/batch", json={"questionnaires": [professional, CONTRACT_EXAMPLE]})
    assert abs(published() - PUBLISH_EVERY) <= 30
    monitoring = client.get("/monitoring").get_json()["groups"]
    assert abs(monitoring["professionals"]["questionnaires"] - PUBLISH_EVERY) <= 40
    assert monitoring["students"]["questionnaires"] == 0  # still one, unpublished


def test_access_lines_of_different_results_cannot_be_told_apart(client, captured_log) -> None:
    """One reply carries the support block and the other not: nothing in their access lines
    may differ but the time they took."""
    calm = {**CONTRACT_EXAMPLE, "SuicidalTh": 0, "Pressure": 1, "FinancialStress": 1}
    due = {**CONTRACT_EXAMPLE, "SuicidalTh": 1, "Pressure": 5, "FinancialStress": 5}
    replies = [client.post("/predict", json=body) for body in (calm, due)]
    assert "support" not in replies[0].get_json() and "support" in replies[1].get_json()
    lines = [json.loads(x) for x in captured_log.getvalue().splitlines()]
    for line in lines:
        del line["httpRequest"]["latency"], line["request_id"], line["time"]
    assert lines[0] == lines[1]


def test_a_method_a_route_does_not_take_is_logged_with_that_route(client, captured_log) -> None:
    for method, path in [("GET", "/predict"), ("DELETE", "/"), ("FOO", "/prediction/")]:
        assert client.open(path, method=method).status_code == 405
    lines = [json.loads(line) for line in captured_log.getvalue().splitlines()]
    logged = [(x["httpRequest"]["requestMethod"], x.get("near_route")) for x in lines]
    assert logged == [("GET", "/predict"), ("DELETE", "/"), ("other", "/prediction/")]
    assert {x["httpRequest"]["requestUrl"] for x in lines} == {"unmatched"}


def test_a_path_that_matches_no_route_is_logged_with_the_route_it_nearly_names(
    client, captured_log
) -> None:
    client.post("/predict/", json=CONTRACT_EXAMPLE)
    client.get("/nope-" + "x" * 20)
    lines = [json.loads(line) for line in captured_log.getvalue().splitlines()]
    near, far = [line for line in lines if line.get("httpRequest", {}).get("status") == 404]
    assert near["httpRequest"]["requestMethod"] == "POST"
    assert near["httpRequest"]["requestUrl"] == "unmatched"
    assert near["near_route"] == "/predict"
    assert far["httpRequest"]["requestMethod"] == "GET" and "near_route" not in far
    assert "nope" not in captured_log.getvalue()

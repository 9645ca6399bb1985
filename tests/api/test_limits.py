"""Limits checked before work, and nothing a client sends can grow the replies, the metrics or
the logs without bound (the hostile-clients review)."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import gevent
import pytest

from soulsync import event_loop
from soulsync.api.answers import READ_IN_TURNS_OF
from soulsync.app import create_app
from soulsync.questionnaire import CONTRACT_EXAMPLE
from tests.support.processes import import_wsgi


def post_batch(client, items) -> object:
    body = json.dumps({"questionnaires": items}, separators=(",", ":"))
    return client.post("/predict/batch", data=body, content_type="application/json")


def test_an_oversized_batch_is_refused_before_any_item_is_read(client) -> None:
    response = post_batch(client, [{}] * 1000)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {
        "questionnaires": ["Send between 1 and 500 questionnaires; got 1000."]
    }
    assert len(response.data) < 1000


@pytest.mark.parametrize("count", [200_000, 600_000])
def test_a_body_of_many_objects_is_refused_unparsed(client, count: int) -> None:
    response = post_batch(client, [{}] * count)
    assert response.status_code in (400, 413)  # too many objects, or simply too large
    assert len(response.data) < 1000


def test_a_batch_of_bad_questionnaires_gets_a_short_reply(client) -> None:
    response = post_batch(client, [{"Pressure": 9}] * 500)
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]["questionnaires"]
    assert list(errors) == [str(i) for i in range(10)] + ["more"]
    assert errors["more"] == ["Checking stopped after 10 invalid questionnaires."]
    assert len(response.data) < 100_000


def test_a_full_batch_gives_the_other_connections_their_turns(client, monkeypatch) -> None:
    """Reading 500 questionnaires, screening and dumping them would hold the worker's loop for
    tens of milliseconds at once: it takes a turn every READ_IN_TURNS_OF questionnaires read, and
    one before the reply is dumped."""
    turns = []
    monkeypatch.setattr(event_loop, "take_turn", lambda: turns.append(len(turns)))
    response = post_batch(client, [CONTRACT_EXAMPLE] * 500)
    assert response.status_code == 200
    assert len(turns) == 500 // READ_IN_TURNS_OF - 1 + 1


def test_invented_methods_make_no_new_metric_series() -> None:
    client = create_app({"TESTING": True, "API_KEYS": ["k" * 20]}).test_client()
    for i in range(50):
        assert client.open("/predict", method=f"X{i}YZ").status_code == 401
    metrics = client.get("/metrics", headers={"X-API-Key": "k" * 20}).get_data(as_text=True)
    assert "X1YZ" not in metrics
    assert 'method="other",status="401"} 50.0' in metrics


def test_a_redirect_names_a_path_not_the_clients_host(client) -> None:
    response = client.post(
        "/prediction?x=1", json=CONTRACT_EXAMPLE, headers={"Host": "evil.example"}
    )
    assert response.status_code == 308
    assert response.headers["Location"] == "/prediction/?x=1"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.com", True),
        ("https://a.b.example.com", True),
        ("https://example.com", False),
        ("https://xexample.com.evil.net", False),
        ("https://app.example.com.evil.net", False),
        ("http://app.example.com", False),
        ("https://ok.example", True),
        ("https://ok.example.evil", False),
    ],
)
def test_a_cors_wildcard_means_subdomains(origin: str, allowed: bool) -> None:
    app = create_app(
        {"TESTING": True, "CORS_ORIGINS": ["https://*.example.com", "https://ok.example"]}
    )
    response = app.test_client().get("/", headers={"Origin": origin})
    assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed


def test_an_invalid_cors_origin_stops_start_up_with_one_line() -> None:
    result = import_wsgi(SOULSYNC_CORS_ORIGINS="https://[app")
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("soulsync: SOULSYNC_CORS_ORIGINS: 'https://[app' is not an origin")


@pytest.mark.parametrize("keys", [[], ["k" * 20]])
def test_every_metric_stays_under_100_series_whatever_clients_send(keys: list[str]) -> None:
    app = create_app({"TESTING": True, "API_KEYS": keys})
    client = app.test_client()
    paths = [rule.rule.replace("<path:filename>", "x.js") for rule in app.url_map.iter_rules()]
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW", "X1"]
    for path in [*paths, "/nowhere", "/predict/", "//x"]:
        for method in methods:
            for headers in ({}, {"X-API-Key": "k" * 20}, {"Origin": "https://a.example"}):
                client.open(path, method=method, headers=headers, json=CONTRACT_EXAMPLE)
    text = client.get("/metrics", headers={"X-API-Key": "k" * 20}).get_data(as_text=True)
    # A series is a metric's label set; a histogram's buckets (`le`) are one series' parts.
    series: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, labels = line.split(" ")[0].partition("{")
            name = re.sub(r"_(bucket|sum|count|total|created)$", "", name)
            labels = re.sub(r'(^|,)le="[^"]*"', "", labels)
            series.setdefault(name, set()).add(labels)
    counts = {name: len(sets) for name, sets in series.items()}
    assert counts["soulsync_http_requests"] > 10 and max(counts.values()) < 100, counts


class LateBody(io.BytesIO):
    """A body that arrives whole, `delay` seconds after the head (waiting on gevent's loop, as
    a socket read under the gevent worker does)."""

    def __init__(self, body: bytes, delay: float) -> None:
        super().__init__(body)
        self.delay = delay

    def read(self, size: int | None = -1) -> bytes:
        if self.delay:
            gevent.sleep(self.delay)
            self.delay = 0
        return super().read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def test_the_deadline_answers_408_and_leaves_the_next_request_alone() -> None:
    """event_loop.RequestDeadline: a request whose body is late past its deadline gets 408; one
    whose body comes in time is answered, and its deadline is cancelled with it, so that the
    connection's next request (the same greenlet) meets no stray deadline."""
    app = create_app({"TESTING": True})
    app.wsgi_app = event_loop.RequestDeadline(app.wsgi_app, 2.0)
    client = app.test_client()
    body = json.dumps(CONTRACT_EXAMPLE).encode()

    def post(delay: float) -> int:
        stream = LateBody(body, delay)
        return client.post(
            "/predict",
            input_stream=stream,
            content_type="application/json",
            headers={"Content-Length": str(len(body))},
        ).status_code

    started = time.monotonic()
    assert post(60.0) == 408
    assert time.monotonic() - started >= 2.0  # never before the deadline
    assert post(0.05) == 200
    gevent.sleep(2.2)  # past that request's deadline: had it not been cancelled, it fires here
    assert post(0) == 200

"""Optional API keys, CORS and response headers."""

from __future__ import annotations

import pytest

from soulsync.app import create_app
from soulsync.questionnaire import CONTRACT_EXAMPLE
from soulsync.security import key_is_valid

KEYS = ["first-key-0123456789", "second-key-9876543210"]


@pytest.fixture
def locked():
    return create_app({"TESTING": True, "API_KEYS": KEYS}).test_client()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/predict"),
        ("POST", "/prediction/"),
        ("POST", "/predict/batch"),
        ("GET", "/questionnaire"),
        ("GET", "/model"),
        ("GET", "/"),
        ("GET", "/metrics"),
        ("GET", "/nowhere"),
    ],
)
def test_every_endpoint_needs_a_key_when_keys_are_set(locked, method: str, path: str) -> None:
    missing = locked.open(path, method=method, json=CONTRACT_EXAMPLE)
    assert missing.status_code == 401
    assert "X-API-Key" in missing.get_json()["message"]
    assert missing.headers["WWW-Authenticate"] == "X-API-Key"
    wrong = locked.open(
        path, method=method, json=CONTRACT_EXAMPLE, headers={"X-API-Key": KEYS[0][:-1]}
    )
    assert wrong.status_code == 401
    for key in KEYS:
        right = locked.open(path, method=method, json=CONTRACT_EXAMPLE, headers={"X-API-Key": key})
        assert right.status_code != 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json", "/reference"])
def test_probes_and_docs_stay_open(locked, path: str) -> None:
    assert locked.get(path).status_code == 200


def test_cors_preflight_needs_no_key() -> None:
    locked = create_app(
        {"TESTING": True, "API_KEYS": KEYS, "CORS_ORIGINS": ["https://app.example"]}
    ).test_client()
    response = locked.options(
        "/predict",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" in response.headers


def test_keys_are_off_by_default(client) -> None:
    assert client.post("/predict", json=CONTRACT_EXAMPLE).status_code == 200


def test_key_comparison() -> None:
    assert key_is_valid(KEYS[1], KEYS)
    assert not key_is_valid("", KEYS)
    assert not key_is_valid(KEYS[0] + "x", KEYS)
    assert not key_is_valid("anything", [])


def test_spec_documents_the_key(client) -> None:
    spec = client.get("/openapi.json").get_json()
    scheme = spec["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert {"ApiKeyAuth": []} in spec["security"]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "401" in spec["paths"]["/predict"]["post"]["responses"]


@pytest.mark.parametrize("path", ["/", "/predict", "/nowhere", "/docs"])
def test_security_headers_on_every_response(client, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_metrics_port_needs_no_key() -> None:
    """The platform's collector scrapes the loopback metrics port without a key; on the
    service's port /metrics still needs one (and is not there)."""
    app = create_app({"TESTING": True, "API_KEYS": KEYS, "METRICS_PORT": 9090})
    client = app.test_client()
    assert client.get("/metrics", base_url="http://127.0.0.1:9090").status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": KEYS[0]}).status_code == 404


def test_drift_figures_are_for_operators_only() -> None:
    """GET /monitoring answers where /metrics does: on the loopback metrics port, without a key;
    a client of the screening endpoints, on the service's port, gets 404 even with a key."""
    app = create_app({"TESTING": True, "API_KEYS": KEYS, "METRICS_PORT": 9090})
    client = app.test_client()
    operators = client.get("/monitoring", base_url="http://127.0.0.1:9090")
    assert operators.status_code == 200 and "groups" in operators.get_json()
    keyed = client.get("/monitoring", headers={"X-API-Key": KEYS[0]})
    assert keyed.status_code == 404 and "groups" not in keyed.get_json()
    assert client.get("/monitoring").status_code == 401


def test_the_metrics_port_skips_the_key_for_metrics_only() -> None:
    app = create_app({"TESTING": True, "API_KEYS": KEYS, "METRICS_PORT": 9090})
    client = app.test_client()
    metrics_port = "http://127.0.0.1:9090"
    body = {"questionnaires": [CONTRACT_EXAMPLE]}
    assert client.post("/predict/batch", json=body, base_url=metrics_port).status_code == 401
    assert client.post("/predict", json=CONTRACT_EXAMPLE, base_url=metrics_port).status_code == 401
    assert client.get("/model", base_url=metrics_port).status_code == 401

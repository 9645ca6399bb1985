"""The OpenAPI document, Swagger UI and the reference page: complete, valid, offline."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from soulsync.question import Kind
from soulsync.questionnaire import CONTRACT_EXAMPLE, QUESTIONS


@pytest.fixture
def spec(client) -> dict:
    return client.get("/openapi.json").get_json()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_spec_is_valid_openapi(spec: dict) -> None:
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_info_says_what_the_service_is_for(spec: dict) -> None:
    assert "screening" in spec["info"]["description"]
    assert "not a diagnosis" in spec["info"]["description"]


def test_every_operation_is_documented(spec: dict) -> None:
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        assert "200" in operation["responses"], where
        assert "default" in operation["responses"], where
        if method == "post":
            body = operation["requestBody"]["content"]["application/json"]
            assert body.get("example"), where
            for status in ("400", "413", "415", "422"):
                assert status in operation["responses"], f"{where} {status}"
            reply = operation["responses"]["200"]["content"]["application/json"]
            assert reply.get("example") or reply.get("examples"), where


def test_contract_example_is_the_request_example(spec: dict) -> None:
    for path in ("/predict", "/prediction/"):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["example"] == CONTRACT_EXAMPLE


def test_field_descriptions_carry_codes_and_labels(spec: dict) -> None:
    fields = spec["components"]["schemas"]["Questionnaire"]["properties"]
    assert list(fields) == [q.key for q in QUESTIONS]
    for question in QUESTIONS:
        description = fields[question.key]["description"]
        if question.kind is Kind.CATEGORICAL:
            for option in question.options:
                assert f"{option.code} = {option.en!r}" in description, question.key
        else:
            assert f"{question.min_code} to {question.max_code}" in description


@pytest.mark.parametrize("page", ["/docs", "/reference"])
def test_docs_pages_load_nothing_from_other_hosts(client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls
    for url in urls:
        assert not re.match(r"^(https?:)?//", url), url
        if url.startswith("/"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            asset.close()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_reference_page_lists_every_operation(client, spec: dict) -> None:
    html = client.get("/reference").get_data(as_text=True)
    for path, method, operation in operations(spec):
        assert f'id="{method.upper()}-{path}"' in html
        assert operation["summary"] in html.replace("&#39;", "'")
    # The replies' examples are named components: the page shows their values.
    assert spec["components"]["examples"]["PredictionReply"]["value"]["model_version"] in html

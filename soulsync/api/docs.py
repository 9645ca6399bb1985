"""Documentation pages that work with no internet: Swagger UI, with its assets served from the
flask-swagger-ui package installed with the service, and a plain HTML reference rendered from
the same OpenAPI document. Neither page loads anything from another host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, Flask, Response, render_template, send_from_directory

from soulsync import __version__, security, texts
from soulsync.api.state import state

SWAGGER_UI_ASSETS = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
SWAGGER_UI_ASSETS_URL = "/docs/assets/"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
TITLE = "SoulSync model service"

DESCRIPTION = f"""\
Depression-risk **screening** for the SoulSync companion app. After the app's daily ten-question
questionnaire, the backend sends the answers here and receives a screening result, an estimated
probability (docs/model.md says how far it holds for the app's users), a risk level, the answers
that drove the score and, whenever the person reported suicidal thoughts or the result is
Depression, where to get help.

**{texts.NOTICE}**

The questions, their codes and labels are served by `GET /questionnaire`. Errors share one
shape, `{{"code", "status", "message"}}`; a validation error (422) adds `errors`, naming each bad
field under `errors.json` with what it accepts.
"""

blp = Blueprint("docs", __name__, template_folder="templates")


def configure(app: Flask) -> None:
    """flask-smorest's settings: the OpenAPI document, and Swagger UI from assets this service
    serves itself (flask-swagger-ui's package), never a CDN, with no call to the public
    validator."""
    app.config.setdefault("API_TITLE", TITLE)
    app.config.setdefault("API_VERSION", __version__)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", SWAGGER_UI_ASSETS_URL)
    app.config.setdefault(
        "OPENAPI_SWAGGER_UI_CONFIG", {"validatorUrl": None, "displayRequestDuration": True}
    )
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        security.document({"info": {"description": DESCRIPTION, "title": TITLE}}),
    )


@blp.get(SWAGGER_UI_ASSETS_URL + "<path:filename>")
def swagger_ui_asset(filename: str) -> Response:
    return send_from_directory(SWAGGER_UI_ASSETS, filename, max_age=86400)


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"array of {_schema_name(schema.get('items'))}"
    return schema.get("type", "object")


def _resolve(spec: dict[str, Any], kind: str, item: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in item:
        return spec["components"][kind][item["$ref"].rsplit("/", 1)[-1]]
    return item


def _example(spec: dict[str, Any], content: dict[str, Any]) -> Any:
    """A media type's example: its own, or the first of its named examples."""
    if "example" in content:
        return content["example"]
    for example in content.get("examples", {}).values():
        return _resolve(spec, "examples", example).get("value")
    return None


@blp.get("/reference")
def reference() -> str:
    """Every operation and schema of the OpenAPI document, as one static page."""
    spec = state().api.spec.to_dict()
    operations = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = []
            for status, response in operation.get("responses", {}).items():
                response = _resolve(spec, "responses", response)
                content = response.get("content", {}).get("application/json", {})
                responses.append(
                    {
                        "status": status,
                        "description": response.get("description", ""),
                        "schema": _schema_name(content.get("schema")),
                        "example": _example(spec, content),
                    }
                )
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": operation.get("parameters", []),
                    "body_schema": _schema_name(body.get("schema")),
                    "body_example": body.get("example"),
                    "responses": responses,
                }
            )
    return render_template(
        "reference.html",
        info=spec["info"],
        operations=operations,
        schemas=spec.get("components", {}).get("schemas", {}),
    )

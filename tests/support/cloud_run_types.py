"""A Cloud Run service file checked field by field against the Cloud Run admin API v1's own
description of a Service: its discovery document, as google-api-python-client ships it. A key the
API does not know, a value of the wrong type, or a Cloud Run annotation the API does not list
fails, where the file would otherwise be refused only at its first real release."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

DOCUMENT = json.loads(
    resources.files("googleapiclient.discovery_cache.documents")
    .joinpath("run.v1.json")
    .read_text(encoding="utf-8")
)
SCHEMAS: dict[str, dict[str, Any]] = DOCUMENT["schemas"]
#: Annotations whose names Cloud Run reserves: only those the API lists are accepted.
RESERVED_PREFIXES = ("run.googleapis.com/", "autoscaling.knative.dev/")
LISTED_ANNOTATIONS = frozenset(
    re.findall(
        r"`((?:run\.googleapis\.com|autoscaling\.knative\.dev)/[\w.-]+)`",
        SCHEMAS["ObjectMeta"]["properties"]["annotations"]["description"],
    )
)
TYPES = {"string": str, "integer": int, "boolean": bool, "number": (int, float)}


def service_problems(document: dict[str, Any]) -> list[str]:
    """Everything in `document` that the API's Service does not take, one line each."""
    return _problems(document, {"$ref": "Service"}, "")


def _problems(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    name = schema.get("$ref")
    if name:
        schema = SCHEMAS[name]
    if "properties" in schema or "additionalProperties" in schema:
        if not isinstance(value, dict):
            return [f"{path}: an object expected, not {value!r}"]
        found = []
        fields = schema.get("properties", {})
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in fields:
                found += _problems(item, fields[key], where)
            elif "additionalProperties" in schema:
                found += _problems(item, schema["additionalProperties"], where)
            else:
                found.append(f"{where}: not a field of {name or 'this object'}")
        if path.endswith("metadata.annotations"):
            found += _annotation_problems(value, path)
        return found
    if schema.get("type") == "array":
        if not isinstance(value, list):
            return [f"{path}: a list expected, not {value!r}"]
        items = schema["items"]
        return [p for i, item in enumerate(value) for p in _problems(item, items, f"{path}[{i}]")]
    expected = TYPES.get(schema.get("type", ""))
    wrong_type = not isinstance(value, expected) if expected else False
    if wrong_type or (expected is int and isinstance(value, bool)):
        return [f"{path}: {schema['type']} expected, not {value!r}"]
    return []


def _annotation_problems(annotations: dict[str, Any], path: str) -> list[str]:
    return [
        f"{path}.{key}: not an annotation Cloud Run lists"
        for key in annotations
        if key.startswith(RESERVED_PREFIXES) and key not in LISTED_ANNOTATIONS
    ]

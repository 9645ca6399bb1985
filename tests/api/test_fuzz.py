"""Schema-driven fuzzing with schemathesis, in-process, from the service's own OpenAPI
document: a fixed number of generated requests per operation, valid ones (positive) and
invalid ones (negative). No 5xx, and every response conforms to its documented schema, status
and content type. (Invalid inputs the service deliberately accepts, such as "2.0" or a label in
another case, are why negative data is not required to be rejected.)"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from soulsync.app import create_app

EXAMPLES_PER_OPERATION = 60
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app({"TESTING": True}))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_spec(case) -> None:
    case.call_and_validate(checks=CHECKS)

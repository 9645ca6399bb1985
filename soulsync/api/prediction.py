"""Screening endpoints: POST /prediction/ (documented), POST /predict (the old clients' path)
and POST /predict/batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from apispec import APISpec
from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.error_handler import ErrorSchema

from soulsync.api.errors import VALIDATION_ERROR_EXAMPLE
from soulsync.api.parsing import load_body
from soulsync.api.schemas import (
    BatchRequestSchema,
    BatchResponseSchema,
    PredictionSchema,
    QuestionnaireSchema,
)
from soulsync.api.state import state
from soulsync.inference.screening import NOTICE, Screener, Screening
from soulsync.observability import log_fields
from soulsync.questionnaire import BY_KEY, CONTRACT_EXAMPLE, PREDICTION_MESSAGE, read_answers

QUESTIONNAIRE_SCHEMA = QuestionnaireSchema()
BATCH_SCHEMA = BatchRequestSchema()

blp = Blueprint(
    "prediction",
    __name__,
    description="Depression-risk screening of the ten-question questionnaire. A screening aid, "
    "not a diagnosis.",
)


def documented(*decorators: Callable[[Callable], Callable]) -> Callable[[Callable], Callable]:
    """Apply flask-smorest's decorators for the OpenAPI document only: the view runs as written.

    Each of them documents the view (in its `_apidoc`, which flask-smorest reads when the view
    is registered) and also wraps it in a call through `ensure_sync`, and `arguments` in
    webargs' parsing. The screening views read their bodies themselves (load_body), so those
    layers did nothing for them but cost about 50 us a request (make bench). `_apidoc` is not
    flask-smorest's public API: tests/api/test_docs.py fails if the document loses any of it.
    """

    def decorate(view: Callable) -> Callable:
        wrapped = view
        for decorator in reversed(decorators):
            wrapped = decorator(wrapped)
        view._apidoc = wrapped._apidoc  # type: ignore[attr-defined]
        return view

    return decorate


#: The documented replies are the served model's own answers to the contract example, computed
#: when the app is built (document_examples), so that no retrain leaves the docs behind.
REPLY_EXAMPLE = "PredictionReply"
BATCH_REPLY_EXAMPLE = "BatchReply"


def document_examples(spec: APISpec, screener: Screener, support: dict[str, Any]) -> None:
    """Put the served model's reply to the contract example into the OpenAPI document."""
    (screening,) = screener.screen([CONTRACT_EXAMPLE]).screenings
    reply = reply_for(screening, screener.version, support)
    batch = {
        "message": PREDICTION_MESSAGE,
        "count": 1,
        "model_version": screener.version,
        "results": [reply],
    }
    summary = "The served model's reply to the contract example"
    spec.components.example(REPLY_EXAMPLE, {"summary": summary, "value": reply})
    spec.components.example(BATCH_REPLY_EXAMPLE, {"summary": summary, "value": batch})


def reply_for(screening: Screening, version: str, support: dict[str, Any]) -> dict[str, Any]:
    """The reply for one questionnaire, in PredictionSchema's shape: the old `message` and
    `result`, and what explains them."""
    reply: dict[str, Any] = {
        "message": PREDICTION_MESSAGE,
        "result": screening.result,
        "status": "success",
        "probability": round(screening.probability, 6),
        "threshold": round(screening.threshold, 6),
        "risk_level": screening.risk_level.value,
        "model_version": version,
        "factors": [
            {
                "key": factor.key,
                "answer": factor.answer,
                "answer_label": BY_KEY[factor.key].option(factor.answer).en,
                "reference": factor.reference,
                "reference_label": BY_KEY[factor.key].option(factor.reference).en,
                "effect": round(factor.effect, 6),
            }
            for factor in screening.factors
        ],
        "notice": NOTICE,
    }
    if screening.support_due:
        reply["support"] = support
    return reply


def screen(questionnaires: Sequence[dict[str, int]]) -> tuple[list[dict[str, Any]], str]:
    """Screen, count what was screened for the metrics, name the model in the
    access line (never an answer, a score or a result: they are health data), and build the
    replies."""
    current = state()
    version = current.screener.version
    screened = current.screener.screen(questionnaires)
    current.live.add(screened.codes, screened.probabilities, screened.flagged)
    log_fields(model_version=version)
    return [reply_for(s, version, current.support) for s in screened.screenings], version


def as_json(reply: dict[str, Any]) -> Response:
    """The reply as it is. It is built in its schema's shape (a test dumps replies through the
    schema and compares); letting flask-smorest dump it through marshmallow a second time
    cost about a tenth of every request (cProfile). The schema still documents it."""
    return current_app.json.response(reply)


#: The request, reply and error documentation shared by both single-screening paths.
_questionnaire_endpoint = documented(
    blp.arguments(QUESTIONNAIRE_SCHEMA, example=CONTRACT_EXAMPLE),
    blp.response(200, PredictionSchema, examples={"contract": REPLY_EXAMPLE}),
    blp.alt_response(
        422,
        schema=ErrorSchema,
        example=VALIDATION_ERROR_EXAMPLE,
        description="Unprocessable Entity: each bad answer is named",
    ),
    blp.alt_response(400, response="BAD_REQUEST"),
    blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE"),
    blp.alt_response(401, response="UNAUTHORIZED"),
    blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE"),
)


def _one_questionnaire() -> Response:
    (reply,), _ = screen([load_body(QUESTIONNAIRE_SCHEMA, read_answers)])
    return as_json(reply)


def _read_batch(body: object) -> dict[str, list[dict[str, int]]] | None:
    """The batch as BatchRequestSchema loads it, when every questionnaire is valid and their
    number within the limit, else None."""
    items = body.get("questionnaires") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= current_app.config["BATCH_LIMIT"]:
        return None
    questionnaires = [read_answers(item) for item in items]
    if None in questionnaires:
        return None
    return {"questionnaires": questionnaires}  # type: ignore[dict-item]


@blp.route("/prediction/")
class PredictionView(MethodView):
    @_questionnaire_endpoint
    def post(self) -> Response:
        """Screen one questionnaire

        Takes the ten answers as integer codes (see `GET /questionnaire`; for the categorical
        questions the option label is accepted too) and returns the screening result. Keys other
        than the ten are ignored. `support` appears whenever the person reported suicidal
        thoughts or the result is Depression.
        """
        return _one_questionnaire()


@blp.route("/predict")
class PredictAliasView(MethodView):
    @_questionnaire_endpoint
    def post(self) -> Response:
        """Screen one questionnaire (the old service's path)

        The same contract as `POST /prediction/`, at the path that clients of the old service
        call. Both paths will keep working.
        """
        return _one_questionnaire()


@blp.route("/predict/batch")
class BatchView(MethodView):
    @documented(
        blp.arguments(
            BATCH_SCHEMA, example={"questionnaires": [CONTRACT_EXAMPLE, CONTRACT_EXAMPLE]}
        ),
        blp.response(200, BatchResponseSchema, examples={"contract": BATCH_REPLY_EXAMPLE}),
        blp.alt_response(
            422,
            schema=ErrorSchema,
            description="Unprocessable Entity: each bad questionnaire is named by its index",
            example={
                **VALIDATION_ERROR_EXAMPLE,
                "errors": {
                    "json": {"questionnaires": {"1": VALIDATION_ERROR_EXAMPLE["errors"]["json"]}}
                },
            },
        ),
        blp.alt_response(400, response="BAD_REQUEST"),
        blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE"),
        blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE"),
        blp.alt_response(401, response="UNAUTHORIZED"),
    )
    def post(self) -> Response:
        """Screen many questionnaires in one call

        Up to the batch limit (1,000 by default) questionnaires, scored in one model call; the
        results come back in the order sent. If any questionnaire is invalid, nothing is scored
        and the 422 reply names each bad one by its index.
        """
        replies, version = screen(load_body(BATCH_SCHEMA, _read_batch)["questionnaires"])
        return as_json(
            {
                "message": PREDICTION_MESSAGE,
                "count": len(replies),
                "model_version": version,
                "results": replies,
            }
        )

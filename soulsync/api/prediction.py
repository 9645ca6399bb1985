"""Screening endpoints: POST /prediction/ (documented), POST /predict (the old clients' path)
and POST /predict/batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from flask_smorest.error_handler import ErrorSchema

from soulsync.api.errors import VALIDATION_ERROR_EXAMPLE
from soulsync.api.parsing import JsonBodyParser
from soulsync.api.schemas import (
    PREDICTION_EXAMPLE,
    BatchRequestSchema,
    BatchResponseSchema,
    PredictionSchema,
    QuestionnaireSchema,
)
from soulsync.api.state import state
from soulsync.inference.screening import NOTICE, Screening
from soulsync.observability import log_fields
from soulsync.questionnaire import BY_KEY, CONTRACT_EXAMPLE, PREDICTION_MESSAGE

QUESTIONNAIRE_SCHEMA = QuestionnaireSchema()


class PredictionBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()


blp = PredictionBlueprint(
    "prediction",
    __name__,
    description="Depression-risk screening of the ten-question questionnaire. A screening aid, "
    "not a diagnosis.",
)


@blp.before_request
def require_json() -> None:
    if request.method == "POST" and not request.is_json:
        abort(415, message="Send the body as JSON, with Content-Type: application/json.")


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
    """Screen (the screener counts what it sees for the metrics), put the results in the
    access line (never the answers), and build the replies."""
    current = state()
    version = current.screener.version
    screenings = current.screener.screen(questionnaires)
    if len(screenings) == 1:
        log_fields(model_version=version, result=screenings[0].result)
    else:
        log_fields(model_version=version, results=dict(Counter(s.result for s in screenings)))
    return [reply_for(s, version, current.support) for s in screenings], version


def as_json(reply: dict[str, Any]) -> Response:
    """The reply as it is. It is built in its schema's shape (a test dumps replies through the
    schema and compares); letting flask-smorest dump it through marshmallow a second time
    cost about a tenth of every request (cProfile). The schema still documents it."""
    return current_app.json.response(reply)


def _questionnaire_endpoint(view: Callable) -> Callable:
    """The request, reply and error documentation shared by both single-screening paths."""
    view = blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")(view)
    view = blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")(view)
    view = blp.alt_response(400, response="BAD_REQUEST")(view)
    view = blp.alt_response(
        422,
        schema=ErrorSchema,
        example=VALIDATION_ERROR_EXAMPLE,
        description="Unprocessable Entity: each bad answer is named",
    )(view)
    view = blp.response(200, PredictionSchema, example=PREDICTION_EXAMPLE)(view)
    # An instance, not the class: webargs would build (and deep-copy) a schema per request.
    return blp.arguments(QUESTIONNAIRE_SCHEMA, example=CONTRACT_EXAMPLE)(view)


@blp.route("/prediction/")
class PredictionView(MethodView):
    @_questionnaire_endpoint
    def post(self, answers: dict[str, int]) -> Response:
        """Screen one questionnaire

        Takes the ten answers as integer codes (see `GET /questionnaire`; for the categorical
        questions the option label is accepted too) and returns the screening result. Keys other
        than the ten are ignored. `support` appears whenever the person reported suicidal
        thoughts or the result is Depression.
        """
        (reply,), _ = screen([answers])
        return as_json(reply)


@blp.route("/predict")
class PredictAliasView(MethodView):
    @_questionnaire_endpoint
    def post(self, answers: dict[str, int]) -> Response:
        """Screen one questionnaire (the old service's path)

        The same contract as `POST /prediction/`, at the path that clients of the old service
        call. Both paths will keep working.
        """
        (reply,), _ = screen([answers])
        return as_json(reply)


@blp.route("/predict/batch")
class BatchView(MethodView):
    @blp.arguments(
        BatchRequestSchema(), example={"questionnaires": [CONTRACT_EXAMPLE, CONTRACT_EXAMPLE]}
    )
    @blp.response(
        200,
        BatchResponseSchema,
        example={
            "message": PREDICTION_MESSAGE,
            "count": 1,
            "model_version": PREDICTION_EXAMPLE["model_version"],
            "results": [PREDICTION_EXAMPLE],
        },
    )
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="Unprocessable Entity: each bad questionnaire is named by its index",
        example={
            **VALIDATION_ERROR_EXAMPLE,
            "errors": {
                "json": {"questionnaires": {"1": VALIDATION_ERROR_EXAMPLE["errors"]["json"]}}
            },
        },
    )
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.alt_response(401, response="UNAUTHORIZED")
    def post(self, body: dict[str, list[dict[str, int]]]) -> Response:
        """Screen many questionnaires in one call

        Up to the batch limit (1,000 by default) questionnaires, scored in one model call; the
        results come back in the order sent. If any questionnaire is invalid, nothing is scored
        and the 422 reply names each bad one by its index.
        """
        replies, version = screen(body["questionnaires"])
        return as_json(
            {
                "message": PREDICTION_MESSAGE,
                "count": len(replies),
                "model_version": version,
                "results": replies,
            }
        )

"""Screening endpoints: POST /prediction/ (documented), POST /predict (the old clients' path)
and POST /predict/batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from flask_smorest.error_handler import ErrorSchema

from soulsync.api.parsing import JsonBodyParser
from soulsync.api.schemas import (
    NOTICE,
    PREDICTION_EXAMPLE,
    PREDICTION_MESSAGE,
    VALIDATION_ERROR_EXAMPLE,
    BatchRequestSchema,
    BatchResponseSchema,
    PredictionSchema,
    QuestionnaireSchema,
)
from soulsync.inference.predictor import Prediction, Predictor
from soulsync.observability import PREDICTIONS, log_fields
from soulsync.questionnaire import (
    BY_KEY,
    CONTRACT_EXAMPLE,
    NEGATIVE_RESULT,
    POSITIVE_RESULT,
    SUICIDAL_THOUGHTS_KEY,
)

PREDICTOR_EXTENSION = "soulsync.predictor"
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


def predictor() -> Predictor:
    return current_app.extensions[PREDICTOR_EXTENSION]


def render(
    answers: Mapping[str, int], prediction: Prediction, version: str, threshold: float
) -> dict[str, Any]:
    """The reply for one questionnaire: the old `message`/`result` plus what explains them."""
    reply: dict[str, Any] = {
        "message": PREDICTION_MESSAGE,
        "result": POSITIVE_RESULT if prediction.positive else NEGATIVE_RESULT,
        "status": "success",
        "probability": round(prediction.probability, 6),
        "threshold": round(threshold, 6),
        "risk_level": prediction.risk_level,
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
            for factor in prediction.factors
        ],
        "notice": NOTICE,
    }
    if prediction.positive or answers[SUICIDAL_THOUGHTS_KEY] == 1:
        reply["support"] = {
            "message": current_app.config["SUPPORT_MESSAGE"],
            "contacts": current_app.config["SUPPORT_CONTACTS"],
            "notice": NOTICE,
        }
    return reply


def _count(replies: list[dict[str, Any]], version: str) -> None:
    """Metrics and the access line get the results; never the answers."""
    results = Counter(reply["result"] for reply in replies)
    for result, count in results.items():
        PREDICTIONS.labels(result).inc(count)
    if len(replies) == 1:
        log_fields(model_version=version, result=replies[0]["result"])
    else:
        log_fields(model_version=version, results=dict(results))


def as_json(reply: dict[str, Any]) -> Response:
    """The reply as it is. It is built in PredictionSchema's shape (a test dumps replies through
    the schema and compares); letting flask-smorest dump it through marshmallow a second time
    cost about a tenth of every request (cProfile). The schema still documents it."""
    return current_app.json.response(reply)


def _screen(answers: dict[str, int]) -> Response:
    model = predictor()
    (prediction,) = model.predict([answers])
    reply = render(answers, prediction, model.version, model.threshold)
    _count([reply], model.version)
    return as_json(reply)


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
        return _screen(answers)


@blp.route("/predict")
class PredictAliasView(MethodView):
    @_questionnaire_endpoint
    def post(self, answers: dict[str, int]) -> Response:
        """Screen one questionnaire (the old service's path)

        The same contract as `POST /prediction/`, at the path that clients of the old service
        call. Both paths will keep working.
        """
        return _screen(answers)


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
        model = predictor()
        items = body["questionnaires"]
        predictions = model.predict(items)
        results = [
            render(answers, prediction, model.version, model.threshold)
            for answers, prediction in zip(items, predictions, strict=True)
        ]
        _count(results, model.version)
        return as_json(
            {
                "message": PREDICTION_MESSAGE,
                "count": len(items),
                "model_version": model.version,
                "results": results,
            }
        )

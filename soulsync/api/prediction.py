"""Screening endpoints: POST /prediction/ (documented), POST /predict (the old clients' path)
and POST /predict/batch.

Each view takes the answers flask-smorest loads through the request schemas (api/answers.py),
has them screened, and returns the domain's `Screening`s, which the reply schemas dump
(api/replies.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from soulsync import event_loop
from soulsync.api.answers import BatchRequestSchema, QuestionnaireSchema, body_description
from soulsync.api.blueprint import Blueprint
from soulsync.api.errors import VALIDATION_ERROR_EXAMPLE
from soulsync.api.padding import pad_reply, padded_to
from soulsync.api.replies import BatchResponseSchema, PredictionSchema
from soulsync.api.state import state
from soulsync.inference.screening import Screener, Screening
from soulsync.observability import log_fields
from soulsync.questionnaire import CONTRACT_EXAMPLE

blp = Blueprint(
    "prediction",
    __name__,
    description="Depression-risk screening of the ten-question questionnaire. A screening aid, "
    "not a diagnosis.",
)

#: The documented replies are the served model's own answers to the contract example, computed
#: when the app is built (document_examples), so that no retrain leaves the docs behind.
REPLY_EXAMPLE = "PredictionReply"
BATCH_REPLY_EXAMPLE = "BatchReply"

blp.after_request(pad_reply)


# --- the views ----------------------------------------------------------------------------------


def screen(questionnaires: Sequence[dict[str, int]]) -> list[Screening]:
    """Screen, count what was screened for the metrics, and name the model in the access line
    (never an answer, a score or a result: they are health data)."""
    current = state()
    screened = current.screener.screen(questionnaires)
    current.live.add(screened.codes, screened.probabilities, screened.flagged)
    log_fields(model_version=current.screener.version)
    return screened.screenings


def document_examples(spec: APISpec, screener: Screener) -> None:
    """Put the served model's reply to the contract example into the OpenAPI document."""
    (screening,) = screener.screen([CONTRACT_EXAMPLE]).screenings
    reply = PredictionSchema().dump(screening)
    batch = BatchResponseSchema().dump({"model_version": screener.version, "results": [screening]})
    summary = "The served model's reply to the contract example"
    spec.components.example(REPLY_EXAMPLE, {"summary": summary, "value": reply})
    spec.components.example(BATCH_REPLY_EXAMPLE, {"summary": summary, "value": batch})


def client_errors(*statuses: int) -> Callable[[Any], Any]:
    """Document the errors a client can cause on a view, each as a reference to the error
    response flask-smorest registers for its status: one decorator for all of them, where
    `alt_response` would wrap the view once per status."""
    return blp.doc(responses={str(code): HTTPStatus(code).name for code in statuses})


def _screen_one(docstring: str) -> Any:
    """The view of a single-screening path: both paths take and give the same documents."""

    @blp.speaks
    @blp.arguments(
        QuestionnaireSchema(),
        example=CONTRACT_EXAMPLE,
        description=body_description(QuestionnaireSchema),
    )
    @blp.response(200, PredictionSchema, examples={"contract": REPLY_EXAMPLE})
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        example=VALIDATION_ERROR_EXAMPLE,
        description="Unprocessable Entity: each bad answer is named",
    )
    @client_errors(400, 401, 408, 413, 415)
    def post(self: MethodView, answers: dict[str, int]) -> Screening:
        (screening,) = screen([answers])
        padded_to(state().reply_size.screening)
        return screening

    post.__doc__ = docstring
    return post


@blp.route("/prediction/")
class PredictionView(MethodView):
    post = _screen_one(
        """Screen one questionnaire

        Takes the ten answers as integer codes (see `GET /questionnaire`; for the categorical
        questions the option label is accepted too) and returns the screening result. Keys other
        than the ten are ignored. `support` appears whenever the person reported suicidal
        thoughts or the result is Depression.
        """
    )


@blp.route("/predict")
class PredictAliasView(MethodView):
    post = _screen_one(
        """Screen one questionnaire (the old service's path)

        The same contract as `POST /prediction/`, at the path that clients of the old service
        call. Both paths will keep working.
        """
    )


@blp.route("/predict/batch")
class BatchView(MethodView):
    @blp.speaks
    @blp.arguments(
        BatchRequestSchema(),
        example={"questionnaires": [CONTRACT_EXAMPLE, CONTRACT_EXAMPLE]},
        description=body_description(BatchRequestSchema),
    )
    @blp.response(200, BatchResponseSchema, examples={"contract": BATCH_REPLY_EXAMPLE})
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
    @client_errors(400, 401, 408, 411, 413, 415)
    def post(self, batch: dict[str, list[dict[str, int]]]) -> dict[str, Any]:
        """Screen many questionnaires in one call

        Up to the batch limit (see `questionnaires`) questionnaires, scored in one model call; the
        results come back in the order sent. If any questionnaire is invalid, nothing is scored
        and the 422 reply names each bad one by its index.
        """
        screenings = screen(batch["questionnaires"])
        event_loop.take_turn()  # between the screening and the reply's dump, each a long piece
        padded_to(state().reply_size.batch(len(screenings)))
        return {"model_version": state().screener.version, "results": screenings}

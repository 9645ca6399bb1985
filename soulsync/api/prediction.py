"""Screening endpoints: POST /prediction/ (documented), POST /predict (the old clients' path)
and POST /predict/batch.

Each view takes the answers flask-smorest loads through the request schemas (api/answers.py),
has them screened, and returns the domain's `Screening`s, which the reply schemas below dump:
what a reply holds is what its schema says, for the document and for the running code alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields, missing, validate

from soulsync import texts
from soulsync.api import language
from soulsync.api.answers import BatchRequestSchema, QuestionnaireSchema, body_description
from soulsync.api.blueprint import Blueprint
from soulsync.api.errors import VALIDATION_ERROR_EXAMPLE
from soulsync.api.state import state
from soulsync.api.support import SupportWhenDue
from soulsync.inference.decision import RISK_LEVEL_RULE, RiskLevel
from soulsync.inference.predictor import Factor
from soulsync.inference.screening import Screener, Screening
from soulsync.observability import log_fields
from soulsync.questionnaire import (
    CONTRACT_EXAMPLE,
    NEGATIVE_RESULT,
    POSITIVE_RESULT,
    PREDICTION_MESSAGE,
)

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


# --- the replies --------------------------------------------------------------------------------


class Rounded(fields.Float):
    """A probability or an effect, to six decimals."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value if value is None else round(value, 6)


class Count(fields.Integer):
    """How many items the attribute holds."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return len(value)


class Fixed(fields.Constant):
    """A string every reply carries, the same each time and in every language."""

    def __init__(self, text: str, description: str | None = None) -> None:
        # The default as the document states it (apispec would otherwise dump it, outside
        # any request).
        metadata = {"default": text, "type": "string", "example": text}
        if description:
            metadata["description"] = description
        super().__init__(text, required=True, metadata=metadata)


class Said(Fixed):
    """A sentence every reply carries, in the reply's language."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return language.current().say(self.constant)


class RiskLevelText(fields.String):
    """The risk level in words, in the reply's language; only for a client that asked for a
    language, so that the old clients' replies stay as they were."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        speech = language.current()
        return speech.risk_levels[value] if speech.asked else missing


class FactorSchema(Schema):
    """One factor as a reply carries it. The replies build it from the names and labels each
    language prepared when the app was built (`PreparedFactors`); this schema documents it."""

    key = fields.String(required=True, metadata={"description": "The question's key."})
    name = fields.String(
        required=True,
        dump_only=True,
        metadata={
            "description": "What the question is about, in a few words, in the reply's "
            "language (as `GET /questionnaire` names it).",
            "example": "Financial stress",
        },
    )
    answer = fields.Integer(required=True, metadata={"description": "The answer given (code)."})
    answer_label = fields.String(
        required=True,
        dump_only=True,
        metadata={
            "description": "The answer in words, in the reply's language: the option's label, "
            "or on a 1-to-5 scale the number with its scale.",
            "example": "4 of 5 (5 = very high)",
        },
    )
    reference = fields.Integer(
        required=True,
        metadata={"description": "The reference answer it was compared with (code)."},
    )
    reference_label = fields.String(
        required=True,
        dump_only=True,
        metadata={"description": "The reference answer in words, as `answer_label`."},
    )
    effect = fields.Float(
        required=True,
        metadata={
            "description": "Probability with this answer minus probability with the reference "
            "answer instead: positive values raised the risk, negative lowered it."
        },
    )


def factor_replies(factors: Sequence[Factor], speech: language.Speech) -> list[dict[str, Any]]:
    """Each factor as FactorSchema documents it, in `speech`'s language."""
    names, labels = speech.names, speech.answer_labels
    return [
        {
            "key": factor.key,
            "name": names[factor.key],
            "answer": factor.answer,
            "answer_label": labels[factor.key][factor.answer],
            "reference": factor.reference,
            "reference_label": labels[factor.key][factor.reference],
            "effect": round(factor.effect, 6),
        }
        for factor in factors
    ]


class PreparedFactors(fields.List):
    """The factors, as a list of FactorSchema (which documents them), built by
    `factor_replies` from what the reply's language prepared: the factors are most of a reply,
    and dumping each of their fields through marshmallow cost more than all the rest of it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Nested(FactorSchema), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return factor_replies(value, language.current())


class PredictionSchema(Schema):
    """The old service's reply (`message`, `result`) plus what a client needs to act on it."""

    message = Fixed(PREDICTION_MESSAGE, "Always 'Prediction successful' (as the old service).")
    result = fields.String(
        required=True,
        validate=validate.OneOf([POSITIVE_RESULT, NEGATIVE_RESULT]),
        metadata={"description": "The screening result, exactly as the old service wrote it."},
    )
    status = Fixed("success")
    probability = Rounded(
        required=True,
        metadata={
            "description": "Estimated probability of depression, 0 to 1: calibrated for the "
            "population the served model was fitted or recalibrated on (`GET /model`: "
            "`limitations`, and `recalibration` for a recalibrated model); docs/model.md says "
            "how far it holds for the app's users."
        },
    )
    threshold = Rounded(
        required=True,
        metadata={
            "description": "The probability from which the result is Depression, for this "
            "person's group (students or working professionals, from WorkOrStudent): each group "
            "has its own, chosen to find at least a set share of that group's people at risk: "
            "`GET /model`, `decision`, says which share and how."
        },
    )
    risk_level = fields.String(
        required=True,
        validate=validate.OneOf([level.value for level in RiskLevel]),
        metadata={"description": RISK_LEVEL_RULE},
    )
    risk_level_text = RiskLevelText(
        attribute="risk_level",
        dump_only=True,
        metadata={
            "description": "The risk level in words, in the reply's language (for example "
            f"{texts.RISK_LEVELS[RiskLevel.MODERATE]!r}). Only in replies to a client that asks "
            "for a language (Accept-Language or `lang`), so that the replies of the old "
            "clients stay exactly as they were."
        },
    )
    model_version = fields.String(required=True)
    factors = PreparedFactors(
        required=True,
        metadata={
            "description": "The answers that moved this score most, largest effect first: at "
            "most SOULSYNC_TOP_FACTORS of them, and fewer or none when answers equal their "
            "reference (`GET /model`, `features`), which have no effect and are never listed."
        },
    )
    support = SupportWhenDue(
        attribute="support_due",
        metadata={
            "description": "Where to get help: present whenever the answer to "
            "SuicidalTh is 1 (Yes) or the result is Depression."
        },
    )
    notice = Said(texts.NOTICE)


class BatchResponseSchema(Schema):
    message = Fixed(PREDICTION_MESSAGE)
    count = Count(attribute="results", required=True, dump_only=True)
    model_version = fields.String(required=True)
    results = fields.List(
        fields.Nested(PredictionSchema),
        required=True,
        metadata={"description": "One result per questionnaire, in order."},
    )


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
        return {"model_version": state().screener.version, "results": screenings}

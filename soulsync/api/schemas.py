"""Marshmallow schemas: they validate every request, shape every reply and, through
flask-smorest, write the OpenAPI document, so the docs cannot drift from the code.

The questionnaire schema is generated from soulsync.questionnaire: one field per question, with
its codes and labels in the field's documentation.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import current_app
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from soulsync.config import DEFAULTS
from soulsync.inference.decision import RISK_LEVEL_RULE, RiskLevel
from soulsync.inference.monitoring import SCOPE_INSTANCE, Status
from soulsync.inference.screening import NOTICE
from soulsync.questionnaire import (
    CONTRACT_EXAMPLE,
    LANGUAGES,
    NEGATIVE_RESULT,
    POSITIVE_RESULT,
    PREDICTION_MESSAGE,
    QUESTIONS,
    Kind,
    Question,
)


class BaseSchema(Schema):
    """Clients of the old service may send keys beyond the ten, which it ignored: so do we."""

    class Meta:
        unknown = EXCLUDE


class Answer(fields.Field):
    """One answer: its integer code; an integral number written as 2.0 or "2"; or, for a
    categorical question, the option's label (English or Indonesian, any case)."""

    def __init__(self, question: Question) -> None:
        self.question = question
        allowed = question.describe_allowed()
        integer: dict[str, Any] = {"type": "integer"}
        if question.kind is Kind.SCALE:
            integer |= {"minimum": question.min_code, "maximum": question.max_code}
        else:
            integer["enum"] = list(question.codes)
        # The strings listed are the canonical ones; the service also accepts any case, spaces
        # around, and integral numbers such as "2.0".
        text: dict[str, Any] = {
            "type": "string",
            "description": "the code written as text",
            "enum": [str(code) for code in question.codes],
        }
        if question.kind is Kind.CATEGORICAL:
            labels = ", ".join(f"{o.code} = {o.en!r} / {o.id!r}" for o in question.options)
            text["description"] = "the code as text, or the option's label (any case)"
            text["enum"] += [label for o in question.options for label in (o.en, o.id)]
            description = f"{question.text_en}. Codes: {labels}."
        else:
            description = f"{question.text_en}. Codes: {question.min_code} to {question.max_code}."
        super().__init__(
            required=True,
            metadata={
                "description": description,
                "anyOf": [integer, text],
                "example": CONTRACT_EXAMPLE[question.key],
            },
            error_messages={
                "required": f"Missing answer: expected {allowed}.",
                "null": f"May not be null: expected {allowed}.",
            },
        )

    def _invalid(self, value: Any) -> ValidationError:
        if isinstance(value, Decimal):
            shown = str(value)[:40]
        elif isinstance(value, str | int | float | bool):
            shown = json.dumps(value)
            shown = shown if len(shown) <= 40 else shown[:40] + "..."
        else:
            shown = f"of type {'array' if isinstance(value, list) else 'object'}"
        allowed = self.question.describe_allowed()
        return ValidationError(f"Invalid value {shown}: expected {allowed}.")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        code = self.question.read(value)
        if code is None:
            raise self._invalid(value)
        return code

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


QuestionnaireSchema = BaseSchema.from_dict(
    {question.key: Answer(question) for question in QUESTIONS}, name="Questionnaire"
)


class FactorSchema(Schema):
    key = fields.String(required=True, metadata={"description": "The question's key."})
    answer = fields.Integer(required=True, metadata={"description": "The answer given (code)."})
    answer_label = fields.String(required=True)
    reference = fields.Integer(
        required=True,
        metadata={"description": "The reference answer it was compared with (code)."},
    )
    reference_label = fields.String(required=True)
    effect = fields.Float(
        required=True,
        metadata={
            "description": "Probability with this answer minus probability with the reference "
            "answer instead: positive values raised the risk, negative lowered it."
        },
    )


class ContactSchema(Schema):
    name = fields.String(required=True)
    phone = fields.String(required=True)


class SupportSchema(Schema):
    message = fields.String(required=True)
    contacts = fields.List(fields.Nested(ContactSchema), required=True)
    notice = fields.String(required=True, metadata={"example": NOTICE})


class PredictionSchema(Schema):
    """The old service's reply (`message`, `result`) plus what a client needs to act on it."""

    message = fields.String(
        required=True,
        metadata={
            "description": "Always 'Prediction successful' (as the old service).",
            "example": PREDICTION_MESSAGE,
        },
    )
    result = fields.String(
        required=True,
        validate=validate.OneOf([POSITIVE_RESULT, NEGATIVE_RESULT]),
        metadata={"description": "The screening result, exactly as the old service wrote it."},
    )
    status = fields.String(required=True, metadata={"example": "success"})
    probability = fields.Float(
        required=True,
        metadata={"description": "Estimated probability of depression (calibrated, 0 to 1)."},
    )
    threshold = fields.Float(
        required=True,
        metadata={
            "description": "The probability from which the result is Depression, for this "
            "person's group (students or working professionals, from WorkOrStudent): each group "
            "has its own, chosen to find at least 90 % of that group's people at risk. See "
            "`GET /model`, `decision`."
        },
    )
    risk_level = fields.String(
        required=True,
        validate=validate.OneOf([level.value for level in RiskLevel]),
        metadata={"description": RISK_LEVEL_RULE},
    )
    model_version = fields.String(required=True)
    factors = fields.List(
        fields.Nested(FactorSchema),
        required=True,
        metadata={"description": "The answers that moved this score most, largest effect first."},
    )
    support = fields.Nested(
        SupportSchema,
        metadata={
            "description": "Where to get help: present whenever the answer to "
            "SuicidalTh is 1 (Yes) or the result is Depression."
        },
    )
    notice = fields.String(required=True, metadata={"example": NOTICE})


#: How many bad questionnaires of a batch a 422 names; the rest are counted, not listed.
REPORTED_BAD_ITEMS = 10


class QuestionnaireList(fields.List):
    """A batch's questionnaires. The batch limit is checked before any item is read, and a 422
    names at most REPORTED_BAD_ITEMS bad ones, so that a small body buys neither much work nor
    a large reply."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if isinstance(value, list):
            limit = current_app.config["BATCH_LIMIT"]
            if not 1 <= len(value) <= limit:
                raise ValidationError(
                    f"Send between 1 and {limit} questionnaires; got {len(value)}."
                )
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError as error:
            bad = error.messages
            if not isinstance(bad, dict) or len(bad) <= REPORTED_BAD_ITEMS:
                raise
            named = {str(index): errors for index, errors in list(bad.items())[:REPORTED_BAD_ITEMS]}
            named["more"] = [f"{len(bad) - REPORTED_BAD_ITEMS} more questionnaires are invalid."]
            raise ValidationError(named) from None


class BatchRequestSchema(BaseSchema):
    questionnaires = QuestionnaireList(
        fields.Nested(QuestionnaireSchema),
        required=True,
        metadata={
            "description": f"From 1 to the batch limit ({DEFAULTS['BATCH_LIMIT']:,} unless "
            "SOULSYNC_BATCH_LIMIT says otherwise) questionnaires. A bad one is reported under "
            f"its index (the first {REPORTED_BAD_ITEMS}; then `more` counts the rest).",
            "minItems": 1,
            "maxItems": DEFAULTS["BATCH_LIMIT"],
        },
    )


class BatchResponseSchema(Schema):
    message = fields.String(required=True, metadata={"example": PREDICTION_MESSAGE})
    count = fields.Integer(required=True)
    model_version = fields.String(required=True)
    results = fields.List(
        fields.Nested(PredictionSchema),
        required=True,
        metadata={"description": "One result per questionnaire, in order."},
    )


class LanguageArgsSchema(BaseSchema):
    lang = fields.String(
        load_default="en",
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "Language of texts and labels: en (default) or id."},
    )


class OptionSchema(Schema):
    code = fields.Integer(required=True)
    label = fields.String(required=True)


class QuestionSchema(Schema):
    key = fields.String(required=True)
    text = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in Kind]))
    options = fields.List(fields.Nested(OptionSchema), required=True)


class QuestionnaireDocSchema(Schema):
    language = fields.String(required=True)
    questions = fields.List(fields.Nested(QuestionSchema), required=True)


class WelcomeSchema(Schema):
    message = fields.String(required=True, metadata={"example": "Welcome to the SoulSync API"})
    version = fields.String(required=True, metadata={"description": "The service's version."})
    model_version = fields.String(required=True)
    docs = fields.String(required=True, metadata={"example": "/docs"})
    openapi = fields.String(required=True, metadata={"example": "/openapi.json"})
    notice = fields.String(required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    model_version = fields.String(required=True)
    backend = fields.String(required=True, metadata={"example": "tflite"})
    load_seconds = fields.Float(required=True)


class FigureSchema(Schema):
    name = fields.String(
        required=True,
        metadata={"description": "A question's key, `score`, `result` or `group_mix`."},
    )
    psi = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Population stability index; null while too few."},
    )
    status = fields.String(
        required=True, validate=validate.OneOf([status.value for status in Status])
    )
    questionnaires = fields.Integer(required=True)


class GroupDriftSchema(Schema):
    questionnaires = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf([status.value for status in Status]),
        metadata={"description": "The worst status of the group's figures."},
    )
    flagged_share = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Share whose result is Depression; null while too few."},
    )
    reference_flagged_share = fields.Float(required=True)
    figures = fields.List(fields.Nested(FigureSchema), required=True)


class CutOffsSchema(Schema):
    watch_from = fields.Float(required=True)
    shift_from = fields.Float(required=True)
    minimum_count = fields.Integer(required=True)


class MonitoringSchema(Schema):
    scope = fields.String(required=True, metadata={"example": SCOPE_INSTANCE})
    status = fields.String(
        required=True,
        validate=validate.OneOf([status.value for status in Status]),
        metadata={"description": "The worst status of every figure."},
    )
    model_version = fields.String(required=True)
    cut_offs = fields.Nested(CutOffsSchema, required=True)
    reference_available = fields.Boolean(
        required=True,
        metadata={"description": "False for a model whose card has no drift reference."},
    )
    group_mix = fields.Nested(FigureSchema, required=True, allow_none=True)
    groups = fields.Dict(
        keys=fields.String(), values=fields.Nested(GroupDriftSchema), required=True
    )

"""The questionnaire as a request body: one field per question, generated from
soulsync.questionnaire, which validates each answer, names what is wrong, and documents the
question's codes and labels in the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import current_app
from marshmallow import EXCLUDE, Schema, ValidationError, fields

from soulsync import event_loop, texts
from soulsync.api.parsing import BodyLimits
from soulsync.config import BATCH_BYTES_PER_QUESTIONNAIRE, DEFAULTS
from soulsync.question import Kind, Question
from soulsync.questionnaire import CONTRACT_EXAMPLE, QUESTIONS
from soulsync.translations import LANGUAGES

#: How many bad questionnaires of a batch a 422 names; the rest are counted, not listed.
REPORTED_BAD_ITEMS = 10
#: A batch's questionnaires are read this many at a time, the other connections getting their
#: turn between pieces (soulsync/event_loop.py): a full batch would otherwise hold the loop for
#: as long as it takes to read it all.
READ_IN_TURNS_OF = 50


#: Objects and arrays each questionnaire of a batch may bring to the batch's body (itself, and
#: whatever the keys beyond the ten, which are ignored, hold). One questionnaire's own body is
#: held to its bytes alone: too few for its shape to buy any work.
CONTAINERS_PER_QUESTIONNAIRE = 8


class BaseSchema(Schema):
    """Clients of the old service may send keys beyond the ten, which it ignored: so do we.
    Its messages are the service's own (texts), so that a reply can say them in any language."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": texts.NOT_AN_OBJECT, "unknown": texts.UNKNOWN_FIELD}  # noqa: RUF012

    @classmethod
    def body_limits(cls, config: Mapping[str, Any]) -> BodyLimits:
        """What a body of this schema may be: one questionnaire's."""
        return BodyLimits(
            min(config["MAX_QUESTIONNAIRE_BYTES"], config["MAX_CONTENT_LENGTH"]), None
        )


def shown(value: Any) -> str:
    """A bad value as an error message shows it: short, and never more than it was; an array
    or an object by its type alone, in the reply's language."""
    if isinstance(value, Decimal):
        return str(value)[:40]
    if isinstance(value, str | int | float | bool):
        text = json.dumps(value)
        return text if len(text) <= 40 else text[:40] + "..."
    return texts.SHOWN_ARRAY if isinstance(value, list) else texts.SHOWN_OBJECT


class Answer(fields.Field):
    """One answer: its integer code; an integral number written as 2.0 or "2"; or, for a
    categorical question, the option's label (in any language the service speaks, any case)."""

    def __init__(self, question: Question) -> None:
        self.question = question
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
            labels = ", ".join(
                f"{o.code} = " + " / ".join(repr(o.label(language)) for language in LANGUAGES)
                for o in question.options
            )
            text["description"] = (
                "the code as text, or the option's label (any case; a label it had before is "
                "accepted too)"
            )
            text["enum"] += [o.label(language) for o in question.options for language in LANGUAGES]
            text["enum"] += [former for o in question.options for former in o.former_labels]
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
                "required": texts.ANSWER_MISSING.format(allowed=texts.allowed(question)),
                "null": texts.ANSWER_NULL.format(allowed=texts.allowed(question)),
            },
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        code = self.question.read(value)
        if code is None:
            raise ValidationError(
                texts.ANSWER_INVALID.format(
                    shown=shown(value), allowed=texts.allowed(self.question)
                )
            )
        return code

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


QuestionnaireSchema = BaseSchema.from_dict(
    {question.key: Answer(question) for question in QUESTIONS}, name="Questionnaire"
)

#: How the OpenAPI document describes keys beyond the ten: anything, ignored.
EXTRA_KEYS = {
    "description": "Keys beyond the ten are ignored, whatever they hold, as the old service "
    "ignored them (within the body's limits: in a batch, each object or array counts toward "
    "the batch's limit on them).",
}


def document(spec: Any) -> None:
    """Register the questionnaire's schema with what it says of the keys beyond the ten
    (apispec merges the component given with the marshmallow schema's own)."""
    spec.components.schema(
        "Questionnaire", {"additionalProperties": EXTRA_KEYS}, schema=QuestionnaireSchema
    )


def body_description(schema: type[Schema]) -> str:
    """The limits of a body of `schema` with the service's default settings, in words."""
    return schema.body_limits(DEFAULTS).describe()


#: The messages of the fields of a batch's body that are not answers.
FIELD_MESSAGES = {
    "required": texts.FIELD_MISSING,
    "null": texts.FIELD_NULL,
    "invalid": texts.NOT_A_LIST,
    "type": texts.NOT_AN_OBJECT,
}


class QuestionnaireList(fields.List):
    """A batch's questionnaires. The batch limit is checked before any item is read, and
    checking stops at the REPORTED_BAD_ITEMS-th bad one, so that a body buys neither more work
    than a valid batch nor a large reply; they are read READ_IN_TURNS_OF at a time, taking turns."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        limit = current_app.config["BATCH_LIMIT"]
        if not 1 <= len(value) <= limit:
            raise ValidationError(texts.BATCH_SIZE.format(limit=limit, count=len(value)))
        loaded, errors = [], {}
        for index, item in enumerate(value):
            if index and not index % READ_IN_TURNS_OF:
                event_loop.take_turn()
            try:
                loaded.append(self.inner.deserialize(item, **kwargs))
            except ValidationError as error:
                errors[str(index)] = error.messages
                if len(errors) == REPORTED_BAD_ITEMS and index + 1 < len(value):
                    errors["more"] = [texts.MORE_INVALID.format(count=REPORTED_BAD_ITEMS)]
                    break
        if errors:
            raise ValidationError(errors)
        return loaded


class BatchRequestSchema(BaseSchema):
    questionnaires = QuestionnaireList(
        fields.Nested(QuestionnaireSchema, error_messages=FIELD_MESSAGES),
        required=True,
        error_messages=FIELD_MESSAGES,
        metadata={
            "description": f"From 1 to the batch limit ({DEFAULTS['BATCH_LIMIT']:,} unless "
            "SOULSYNC_BATCH_LIMIT says otherwise) questionnaires. A bad one is reported under "
            f"its index; checking stops at the {REPORTED_BAD_ITEMS}th (then `more` says so).",
            "minItems": 1,
            "maxItems": DEFAULTS["BATCH_LIMIT"],
        },
    )

    @classmethod
    def body_limits(cls, config: Mapping[str, Any]) -> BodyLimits:
        """What a batch's body may be: its share for each questionnaire allowed."""
        batch = config["BATCH_LIMIT"]
        return BodyLimits(
            min(batch * BATCH_BYTES_PER_QUESTIONNAIRE, config["MAX_CONTENT_LENGTH"]),
            batch * CONTAINERS_PER_QUESTIONNAIRE + 2,
        )

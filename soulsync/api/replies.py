"""The screening replies' schemas: what a reply holds is what its schema says, for the OpenAPI
document and for the running code alike. The parts a reader reads come in the reply's language
(api/language.py), and the factors, most of a reply, are built from what each language prepared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marshmallow import Schema, fields, missing, validate

from soulsync import texts
from soulsync.api import language
from soulsync.api.support import SupportWhenDue
from soulsync.inference.decision import RISK_LEVEL_RULE, RiskLevel
from soulsync.inference.predictor import Factor
from soulsync.questionnaire import NEGATIVE_RESULT, POSITIVE_RESULT, PREDICTION_MESSAGE

#: How many decimals a probability, a threshold or an effect is written with.
DECIMALS = 6


class Rounded(fields.Float):
    """A probability or an effect, to DECIMALS decimals."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value if value is None else round(value, DECIMALS)


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
            "effect": round(factor.effect, DECIMALS),
        }
        for factor in factors
    ]


class PreparedFactors(fields.List):
    """The factors, as a list of FactorSchema (which documents them), built by
    `factor_replies` from what the reply's language prepared: the factors are most of a reply,
    and dumping each of their fields through marshmallow is most of the reply's cost."""

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

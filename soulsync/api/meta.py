"""What the service is: welcome, the questionnaire definition and the model card."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from soulsync import __version__, texts
from soulsync.api import language
from soulsync.api.blueprint import Blueprint
from soulsync.api.state import state
from soulsync.inference.card import ModelCardSchema
from soulsync.question import Kind
from soulsync.questionnaire import QUESTIONS

blp = Blueprint("meta", __name__, description="The service, its questionnaire and its model.")


class OptionSchema(Schema):
    code = fields.Integer(required=True)
    label = fields.String(required=True)


class QuestionSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(
        required=True,
        metadata={"description": "What the question is about, in a few words (a factor's name)."},
    )
    text = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in Kind]))
    options = fields.List(
        fields.Nested(OptionSchema),
        required=True,
        metadata={
            "description": "Every allowed answer, in the order to show them, which is not "
            "always code order (SleepDr lists the shortest sleep first): send the code."
        },
    )
    anchors = fields.List(
        fields.Nested(OptionSchema),
        required=True,
        metadata={
            "description": "What the ends of a 1-to-5 scale mean (1 = very low, 5 = very "
            "high), to show beside them; empty for other questions."
        },
    )


class QuestionnaireDocSchema(Schema):
    language = fields.String(required=True)
    questions = fields.List(fields.Nested(QuestionSchema), required=True)


class WelcomeSchema(Schema):
    message = fields.String(required=True, metadata={"example": texts.WELCOME})
    version = fields.String(required=True, metadata={"description": "The service's version."})
    model_version = fields.String(required=True)
    docs = fields.String(required=True, metadata={"example": "/docs"})
    openapi = fields.String(required=True, metadata={"example": "/openapi.json"})
    notice = fields.String(required=True)


@blp.route("/")
class WelcomeView(MethodView):
    @blp.speaks
    @blp.response(200, WelcomeSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def get(self) -> dict[str, Any]:
        """Welcome

        Says what this service is, its version and where its documentation lives.
        """
        speech = language.current()
        return {
            "message": speech.say(texts.WELCOME),
            "version": __version__,
            "model_version": state().screener.version,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "notice": speech.say(texts.NOTICE),
        }


@blp.route("/questionnaire")
class QuestionnaireView(MethodView):
    @blp.speaks
    @blp.response(200, QuestionnaireDocSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def get(self) -> dict[str, Any]:
        """The ten questions, their codes and labels

        The service's own definition of the questionnaire, so that clients render their forms
        from it: each question's key (the JSON key to send), its short name, its text, its kind
        (categorical or scale), every allowed code with its label in the order to show them,
        and what a scale's ends mean. `?lang=id` (or Accept-Language: id) gives Indonesian
        texts.
        """
        speech = language.current()
        return {
            "language": speech.language,
            "questions": [
                {
                    "key": question.key,
                    "name": speech.names[question.key],
                    "text": speech.questions[question.key],
                    "kind": question.kind.value,
                    "options": [
                        {"code": option.code, "label": speech.labels[question.key][option.code]}
                        for option in question.shown_options
                    ],
                    "anchors": [
                        {"code": code, "label": label}
                        for code, label in speech.anchors[question.key].items()
                    ],
                }
                for question in QUESTIONS
            ],
        }


@blp.route("/model")
class ModelCardView(MethodView):
    @blp.response(200, ModelCardSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def get(self) -> Response:
        """The model card

        What the served model says about itself: its version; the decision rule (`decision`:
        each group's threshold, how it was chosen, its bootstrap interval, its recall,
        specificity, PPV, NPV and share flagged, and where each risk band starts with what
        it held); how the model was selected; its cross-validated and test figures, overall and
        for each group; the data it was trained on; the reference that drift is measured
        against; its intended use and its limitations. A model from an older build is served
        with the card it came with (one threshold for everyone).
        """
        return current_app.json.response(state().screener.card.document)

"""The flask-smorest floor: the least a service built as the design card says (flask-smorest,
every payload through a marshmallow schema) can do for the same request, under the same
gunicorn settings. Ten integer fields loaded, a reply of the service's shape dumped (three
factors nested), a constant: no model, no hooks, no log line, no metrics.

It sits between the bare Flask floor and the service: what the card's stack costs before any of
the service's own work, so that the bench can say how much of the service's cost is its own.
"""

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import EXCLUDE, Schema, fields

from soulsync.questionnaire import KEYS
from soulsync.texts import NOTICE

app = Flask(__name__)
app.config.update(API_TITLE="floor", API_VERSION="1", OPENAPI_VERSION="3.0.3")
api = Api(app)
blp = Blueprint("floor", __name__)


class Lenient(Schema):
    """Keys beyond the ten ignored, as the service ignores them."""

    class Meta:
        unknown = EXCLUDE


Questionnaire = Lenient.from_dict({key: fields.Integer(required=True) for key in KEYS})


class Factor(Schema):
    key = fields.String()
    name = fields.String()
    answer = fields.Integer()
    answer_label = fields.String()
    reference = fields.Integer()
    reference_label = fields.String()
    effect = fields.Float()


class Reply(Schema):
    message = fields.String()
    result = fields.String()
    status = fields.String()
    probability = fields.Float()
    threshold = fields.Float()
    risk_level = fields.String()
    model_version = fields.String()
    factors = fields.List(fields.Nested(Factor))
    notice = fields.String()


FACTOR = {
    "key": "Pressure",
    "name": "Academic or work pressure",
    "answer": 4,
    "answer_label": "4 of 5 (5 = very high)",
    "reference": 1,
    "reference_label": "1 of 5 (5 = very high)",
    "effect": 0.483443,
}
REPLY = {
    "message": "Prediction successful",
    "result": "Depression",
    "status": "success",
    "probability": 0.5,
    "threshold": 0.47,
    "risk_level": "moderate",
    "model_version": "floor",
    "factors": [FACTOR] * 3,
    "notice": str(NOTICE),  # the service's own, so that the reply is about as long
}


@blp.route("/predict")
class Predict(MethodView):
    @blp.arguments(Questionnaire())
    @blp.response(200, Reply())
    def post(self, answers: dict) -> dict:
        return REPLY


@app.get("/readyz")
def ready() -> dict:
    return {"status": "ready"}


api.register_blueprint(blp)

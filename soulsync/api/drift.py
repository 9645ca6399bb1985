"""Drift of this instance's traffic from the data the model learned from."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from soulsync.api.parsing import Blueprint
from soulsync.api.state import state
from soulsync.inference import drift
from soulsync.inference.drift import SCOPE_INSTANCE, Status

blp = Blueprint(
    "monitoring", __name__, description="Whether the model still fits the people it screens."
)


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


@blp.route("/monitoring")
class MonitoringView(MethodView):
    @blp.response(200, MonitoringSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def get(self) -> dict[str, Any]:
        current = state()
        reference = current.screener.card.drift_reference
        reply: dict[str, Any] = {
            "scope": drift.SCOPE_INSTANCE,
            "model_version": current.screener.version,
            "reference_available": reference is not None,
        }
        if reference is None:
            return reply | {"status": "too_few", "group_mix": None, "groups": {}}
        layout, counts = current.live.layout, current.live.published()
        mix = drift.group_mix(reference, layout, counts)
        return reply | drift.summary(mix, drift.drift_by_group(reference, layout, counts))

    get.__doc__ = f"""Drift of this instance's traffic

        For each group (students, professionals): the population stability index (PSI) of each
        question's answers, of the scores and of the results against the reference saved with
        the model at training, the share flagged against the reference's, how many
        questionnaires each figure rests on, and a status per figure: `ok` below
        {drift.WATCH_FROM}, `watch` from {drift.WATCH_FROM}, `shift` from
        {drift.SHIFT_FROM}, `too_few` below {drift.MINIMUM_COUNT} questionnaires of the
        group (its figures are then withheld). One instance sees only its own traffic since it
        started; `soulsync monitor` reads an export of all of it.
        """

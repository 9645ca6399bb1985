"""Drift of this instance's traffic from the data the model learned from."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from soulsync.api.schemas import MonitoringSchema
from soulsync.api.state import state
from soulsync.inference import monitoring

blp = Blueprint(
    "monitoring", __name__, description="Whether the model still fits the people it screens."
)


@blp.route("/monitoring")
class MonitoringView(MethodView):
    @blp.response(200, MonitoringSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def get(self) -> dict[str, Any]:
        current = state()
        reference = current.screener.card.reference
        reply: dict[str, Any] = {
            "scope": monitoring.SCOPE_INSTANCE,
            "model_version": current.screener.version,
            "reference_available": reference is not None,
        }
        if reference is None:
            return reply | {"status": "too_few", "group_mix": None, "groups": {}}
        layout, counts = current.live.layout, current.live.total()
        mix = monitoring.group_mix(reference, layout, counts)
        return reply | monitoring.summary(mix, monitoring.drift(reference, layout, counts))

    get.__doc__ = f"""Drift of this instance's traffic

        For each group (students, professionals): the population stability index (PSI) of each
        question's answers, of the scores and of the results against the reference saved with
        the model at training, the share flagged against the reference's, how many
        questionnaires each figure rests on, and a status per figure: `ok` below
        {monitoring.WATCH_FROM}, `watch` from {monitoring.WATCH_FROM}, `shift` from
        {monitoring.SHIFT_FROM}, `too_few` below {monitoring.MINIMUM_COUNT} questionnaires of the
        group (its figures are then withheld). One instance sees only its own traffic since it
        started; `soulsync monitor` reads an export of all of it.
        """

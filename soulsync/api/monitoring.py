"""Drift of this instance's traffic from the data the model learned from."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from soulsync.api.schemas import MonitoringSchema
from soulsync.api.state import state
from soulsync.inference import monitoring
from soulsync.inference.monitoring import CountLayout, Figure

blp = Blueprint(
    "monitoring", __name__, description="Whether the model still fits the people it screens."
)


def _figure(figure: Figure) -> dict[str, Any]:
    return {
        "name": figure.name,
        "psi": figure.psi,
        "status": figure.status.value,
        "questionnaires": figure.questionnaires,
    }


@blp.route("/monitoring")
class MonitoringView(MethodView):
    @blp.response(200, MonitoringSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def get(self) -> dict[str, Any]:
        """Drift of this instance's traffic

        For each group (students, professionals): the population stability index (PSI) of each
        question's answers, of the scores and of the results against the reference saved with
        the model at training, the share flagged against the reference's, how many
        questionnaires each figure rests on, and a status per figure: `ok` below 0.1, `watch`
        from 0.1, `shift` from 0.25, `too_few` below 200 questionnaires of the group (its
        figures are then withheld). One instance sees only its own traffic since it started;
        `soulsync monitor` reads an export of all of it.
        """
        current = state()
        reference = current.screener.card.reference
        reply: dict[str, Any] = {
            "scope": monitoring.SCOPE_INSTANCE,
            "model_version": current.screener.version,
            "cut_offs": {
                "watch_from": monitoring.WATCH_FROM,
                "shift_from": monitoring.SHIFT_FROM,
                "minimum_count": monitoring.MINIMUM_COUNT,
            },
            "reference_available": reference is not None,
            "group_mix": None,
            "groups": {},
        }
        if reference is None:
            return reply
        layout = CountLayout(reference.score_edges)
        counts = current.live.total()
        reply["group_mix"] = _figure(monitoring.group_mix(reference, layout, counts))
        for group, drift in monitoring.drift(reference, layout, counts).items():
            reply["groups"][group] = {
                "questionnaires": drift.questionnaires,
                "status": drift.worst.value,
                "flagged_share": drift.flagged_share,
                "reference_flagged_share": drift.reference_flagged_share,
                "figures": [_figure(figure) for figure in drift.figures],
            }
        return reply

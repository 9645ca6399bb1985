"""Drift of this instance's traffic from the data the model learned from."""

from __future__ import annotations

from flask.views import MethodView

from soulsync.api.blueprint import Blueprint
from soulsync.api.state import state
from soulsync.inference import drift
from soulsync.inference.drift import SCOPE_INSTANCE, Drift, DriftSchema

blp = Blueprint(
    "monitoring", __name__, description="Whether the model still fits the people it screens."
)


@blp.route("/monitoring")
class MonitoringView(MethodView):
    @blp.response(200, DriftSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def get(self) -> Drift:
        current = state()
        live = current.live
        return drift.measure(
            current.screener.card.drift_reference,
            live.layout,
            live.published(),
            SCOPE_INSTANCE,
            current.screener.version,
        )

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

"""Drift of this instance's traffic from the data the model learned from."""

from __future__ import annotations

from flask.views import MethodView

from soulsync.api.blueprint import Blueprint, operators_only
from soulsync.api.state import state
from soulsync.inference import drift
from soulsync.inference.drift import SCOPE_INSTANCE, Drift, DriftSchema
from soulsync.metrics import EPSILON, LIVE_MINIMUM_COUNT

blp = Blueprint(
    "monitoring", __name__, description="Whether the model still fits the people it screens."
)


@blp.route("/monitoring")
class MonitoringView(MethodView):
    @blp.response(200, DriftSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self) -> Drift:
        operators_only()
        current = state()
        live = current.live
        return drift.measure(
            current.screener.card.drift_reference,
            live.layout,
            live.published(),
            SCOPE_INSTANCE,
            current.screener.version,
            LIVE_MINIMUM_COUNT,
        )

    get.__doc__ = f"""Drift of this instance's traffic

        For each group (students, professionals): the population stability index (PSI) of each
        question's answers, of the scores and of the results against the reference saved with
        the model at training, the share flagged against the reference's, how many
        questionnaires each figure rests on, and a status per figure: `ok` below
        {drift.WATCH_FROM}, `watch` from {drift.WATCH_FROM}, `shift` from
        {drift.SHIFT_FROM}, `too_few` below {LIVE_MINIMUM_COUNT} questionnaires of the
        group (its figures are then withheld). One instance sees only its own traffic since it
        started; `soulsync monitor` reads an export of all of it. The counts behind the figures
        carry noise (differential privacy, {EPSILON} per published count: docs/monitoring.md),
        so that no one who sent the other questionnaires of a count can read the last one back.
        For operators: when SOULSYNC_METRICS_PORT is set (as in the container image), only on
        that port, on loopback, as /metrics; 404 on the service's port.
        """

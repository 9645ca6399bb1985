"""The SLOs of alerts/slo/ and the alert policies that follow them or a deploy setting: each
SLO's fast and slow burn-rate alerts, and the alert on prod's active instances (`make alerts`:
raising prod's `max_instances` in deploy/clouddeploy.yaml is followed by it, never by hand).

The service answers a daily questionnaire: most requests come in an evening burst, few at
night, and prod scales to zero (`min_instances` "0"). Every figure below is chosen for that
traffic, which TRAFFIC states and docs/runbook.md repeats beside each alert:

- burn-rate alerts on the SLOs (Google's "Alerting on your burn rate": a condition on
  `select_slo_burn_rate` with a short lookback for a fast burn and a long one for a slow burn),
  each joined (AND) to a volume guard, so that one failed request in a quiet hour, a burn rate
  of hundreds, pages no one;
- the latency SLO counts every request Cloud Run measured, cold starts included (Cloud Run's
  `request_latencies` holds the wait for a starting instance, and no label tells those requests
  apart): its goal leaves room for the cold starts that TRAFFIC expects;
- the instance alert counts active instances only (`state = "active"`): idle ones linger after
  a burst and serve no one.

The SLOs' resource names hold PROJECT_ID and SERVICE_ID, which `make apply-alerts`
(deploy/alerts.py) fills in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "deploy" / "clouddeploy.yaml"
RUNBOOK = "docs/runbook.md"
#: Filled in by deploy/alerts.py when the files are installed.
PROJECT_PLACEHOLDER = "PROJECT_ID"
SERVICE_ID_PLACEHOLDER = "SERVICE_ID"
ROLLING_DAYS = 28

#: The traffic every figure here is chosen for, in words (docs/runbook.md, "Alerts and SLOs").
TRAFFIC = (
    "about 2,000 requests a day, most of them in an evening burst after the daily "
    "questionnaire, few at night; prod scales to zero, so a request after a quiet spell "
    "(Cloud Run keeps an idle instance for up to 15 minutes) waits for a cold start: up to "
    "about 4 an hour while traffic is sparse, about 50 a day"
)


@dataclass(frozen=True)
class Objective:
    """One SLO: its file's name (the SLO's id), what it promises, and its indicator."""

    slo_id: str
    title: str
    goal: float
    indicator: dict[str, Any]
    #: What a bad request is, in the words an alert uses.
    bad: str
    #: The runbook's section for its alerts.
    section: str


@dataclass(frozen=True)
class Burn:
    """A burn-rate alert: the burn rate over `lookback` above `rate`, on at least `volume`
    requests in the same window."""

    speed: str
    lookback_hours: int
    rate: float
    volume: int
    severity: str


def _service_filter(service: str, metric: str) -> str:
    return (
        f'resource.type = "cloud_run_revision" AND resource.labels.service_name = "{service}" '
        f'AND metric.type = "{metric}"'
    )


def objectives(service: str) -> list[Objective]:
    requests = _service_filter(service, "run.googleapis.com/request_count")
    latencies = _service_filter(service, "run.googleapis.com/request_latencies")
    return [
        Objective(
            slo_id="availability",
            title="99.5 % of requests answered without a 5xx or Cloud Run's 429, over 28 days",
            goal=0.995,
            indicator={
                "goodTotalRatio": {
                    # Cloud Run's 429 (no instance could take the request) is an outage for the
                    # caller as much as a 503.
                    "badServiceFilter": f"{requests} AND (metric.labels.response_code_class = "
                    f'"5xx" OR metric.labels.response_code = "429")',
                    "totalServiceFilter": requests,
                }
            },
            bad="answered 5xx or 429",
            section="Failed requests",
        ),
        Objective(
            slo_id="latency",
            title="95 % of requests answered within 1 s, cold starts included, over 28 days",
            goal=0.95,
            indicator={
                "distributionCut": {
                    "distributionFilter": latencies,
                    "range": {"min": 0, "max": 1000},
                }
            },
            bad="slower than 1 s",
            section="Slow answers",
        ),
    ]


#: Fast: a burn that would spend the whole 28-day budget in under 3 days; slow: one that would
#: spend it in 14. The volumes are less than an evening hour and a whole day hold at TRAFFIC,
#: and more than a night's handful of requests, among which a few failures fire nothing.
BURNS = (
    Burn("fast", lookback_hours=1, rate=10, volume=50, severity="ERROR"),
    Burn("slow", lookback_hours=24, rate=2, volume=500, severity="WARNING"),
)


def slo_document(objective: Objective) -> dict[str, Any]:
    return {
        "displayName": objective.title,
        "goal": objective.goal,
        "rollingPeriod": f"{ROLLING_DAYS * 86400}s",
        "serviceLevelIndicator": {"requestBased": objective.indicator},
    }


def burn_policy(objective: Objective, burn: Burn, service: str) -> dict[str, Any]:
    """A policy that fires when the SLO's budget burns at `burn.rate` or faster over the
    lookback, on enough requests to mean it."""
    slo = (
        f"projects/{PROJECT_PLACEHOLDER}/services/{SERVICE_ID_PLACEHOLDER}/"
        f"serviceLevelObjectives/{objective.slo_id}"
    )
    hours = burn.lookback_hours
    window = f"{hours * 3600}s"
    share = burn.rate * (1 - objective.goal)
    spent = burn.rate * hours / (ROLLING_DAYS * 24)
    # The availability SLO's fast burn pages; a slow answer never does.
    severity = burn.severity if objective.slo_id == "availability" else "WARNING"
    span = "the last hour" if hours == 1 else f"the last {hours} hours"
    return {
        "displayName": f"SoulSync model service: {objective.slo_id} budget, {burn.speed} burn",
        "documentation": {
            "mimeType": "text/markdown",
            "content": (
                f"Over {span}, more than {share:.1%} of the service's requests were "
                f"{objective.bad} (a burn rate of {burn.rate:g}: {spent:.1%} of the SLO's "
                f"{ROLLING_DAYS}-day budget in that time; SLO: {objective.title}), on at least "
                f"{burn.volume} requests. Chosen for this traffic: {TRAFFIC}. What to do: "
                f'{RUNBOOK}, "{objective.section}".'
            ),
        },
        "severity": severity,
        # Both conditions at once: the burn, and enough requests for it to mean something.
        "combiner": "AND",
        "conditions": [
            {
                "displayName": f"Burn rate over {hours} h above {burn.rate:g}",
                "conditionThreshold": {
                    "filter": f'select_slo_burn_rate("{slo}", "{hours}h")',
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": burn.rate,
                    "duration": "0s",
                    "trigger": {"count": 1},
                },
            },
            {
                "displayName": f"At least {burn.volume} requests over {hours} h",
                "conditionThreshold": {
                    "filter": _service_filter(service, "run.googleapis.com/request_count"),
                    "aggregations": [
                        {
                            "alignmentPeriod": window,
                            "perSeriesAligner": "ALIGN_DELTA",
                            "crossSeriesReducer": "REDUCE_SUM",
                            "groupByFields": ["resource.labels.service_name"],
                        }
                    ],
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": burn.volume - 0.5,  # requests are whole: at least volume
                    "duration": "0s",
                    "trigger": {"count": 1},
                },
            },
        ],
    }


def prod_target() -> dict[str, Any]:
    """prod's target in deploy/clouddeploy.yaml: the service it deploys, its deploy parameters."""
    for document in yaml.safe_load_all(PIPELINE.read_text(encoding="utf-8")):
        if document["kind"] == "Target" and document["metadata"]["name"] == "prod":
            return document
    raise SystemExit(f"{PIPELINE}: no prod target")


def instances_policy(service: str, maximum: int) -> dict[str, Any]:
    """Active instances of a revision at prod's maximum for 15 minutes."""
    return {
        "displayName": "SoulSync model service: instances at the maximum",
        "documentation": {
            "mimeType": "text/markdown",
            "content": (
                f"A revision of the service has had {maximum} active instances, prod's maximum "
                "(`max_instances` in deploy/clouddeploy.yaml), for 15 minutes: requests beyond "
                "them wait, and Cloud Run answers 429 to those it cannot place. Idle instances "
                "(left after a burst) are not counted. What to do: "
                f'{RUNBOOK}, "Instances at the maximum".'
            ),
        },
        "severity": "WARNING",
        "combiner": "OR",
        "conditions": [
            {
                "displayName": f"{maximum} active instances for 15 minutes",
                "conditionThreshold": {
                    "filter": _service_filter(
                        service, "run.googleapis.com/container/instance_count"
                    )
                    + ' AND metric.labels.state = "active"',
                    "aggregations": [
                        {
                            "alignmentPeriod": "60s",
                            "perSeriesAligner": "ALIGN_MAX",
                            "crossSeriesReducer": "REDUCE_SUM",
                            "groupByFields": ["resource.labels.revision_name"],
                        }
                    ],
                    # A threshold condition compares with > only: half an instance below.
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": maximum - 0.5,
                    "duration": "900s",
                    "trigger": {"count": 1},
                },
            }
        ],
    }


def files() -> dict[str, dict[str, Any]]:
    """Every document this makes, by its path under alerts/."""
    prod = prod_target()["deployParameters"]
    service = prod["service"]
    written: dict[str, dict[str, Any]] = {}
    for objective in objectives(service):
        written[f"slo/{objective.slo_id}.json"] = slo_document(objective)
        for burn in BURNS:
            name = f"policies/{objective.slo_id}-{burn.speed}-burn.json"
            written[name] = burn_policy(objective, burn, service)
    written["policies/max-instances.json"] = instances_policy(service, int(prod["max_instances"]))
    return written

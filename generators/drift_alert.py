"""alerts/policies/drift-shift.json: the alert policy that fires when the screened
population's scores or share flagged reach `shift`, from the shipped model's drift reference
(`make alerts`, and `make train`: a retrained model has a new reference and a new version).

The policy is PromQL over the drift counters that Managed Service for Prometheus collects from
every instance (soulsync_score_bins_total, soulsync_predictions_total; the collector sidecar,
docs/monitoring.md): per group, over the last day, the population stability index of the score
bins and of the results against the reference's shares, with the cut-offs and the share floor of
soulsync/inference/drift.py, so that it reads the figures GET /monitoring reads, for all
instances together. A group with fewer than LIVE_MINIMUM_COUNT questionnaires in the window (the
counts carry noise: soulsync/metrics.py) is not judged, as GET /monitoring withholds its
figures.
"""

from __future__ import annotations

from pathlib import Path

from soulsync.inference.drift import SHARE_FLOOR, SHIFT_FROM
from soulsync.inference.model_folder import DEFAULT_MODEL_PATH, read_card
from soulsync.metrics import LIVE_MINIMUM_COUNT, PREDICTIONS, SCORE_BINS
from soulsync.questionnaire import NEGATIVE_RESULT, POSITIVE_RESULT

#: The window each figure counts: a day of questionnaires, from every instance.
WINDOW = "1d"


def constants(label: str, shares: dict[tuple[str, str], float]) -> str:
    """A PromQL vector of the reference's shares, one sample per (group, label value)."""
    return " or ".join(
        f'label_replace(label_replace(vector({max(share, SHARE_FLOOR)!r}), "group", "{group}", '
        f'"", ""), "{label}", "{value}", "", "")'
        for (group, value), share in shares.items()
    )


def psi_query(counter: str, label: str, version: str, shares: dict[tuple[str, str], float]) -> str:
    """Per group: the PSI of the counter's distribution over `label` against `shares`, where the
    group has at least LIVE_MINIMUM_COUNT questionnaires in the window, kept where it reaches
    SHIFT_FROM."""
    increase = f'increase({counter}_total{{model_version="{version}"}}[{WINDOW}])'
    total = f"sum by (group) ({increase})"
    observed = (
        f"clamp_min(sum by (group, {label}) ({increase}) / on (group) group_left {total}, "
        f"{SHARE_FLOOR!r})"
    )
    expected = f"({constants(label, shares)})"
    matched = f"on (group, {label})"
    index = (
        f"sum by (group) (({observed} - {matched} {expected}) * "
        f"ln({observed} / {matched} {expected}))"
    )
    return f"({index}) >= {SHIFT_FROM!r} and on (group) ({total} >= {LIVE_MINIMUM_COUNT})"


def policy(model_path: Path = DEFAULT_MODEL_PATH) -> dict:
    card = read_card(model_path)
    reference = card.drift_reference
    if reference is None:
        raise SystemExit(f"{model_path}: its card has no drift reference")
    edges = [*(str(edge) for edge in reference.score_edges), "+Inf"]
    score_shares = {
        (group, edge): share
        for group, expected in reference.groups.items()
        for edge, share in zip(edges, expected.scores, strict=True)
    }
    result_shares = {
        (group, result): share
        for group, expected in reference.groups.items()
        for result, share in (
            (NEGATIVE_RESULT, 1 - expected.flagged),
            (POSITIVE_RESULT, expected.flagged),
        )
    }
    conditions = [
        ("The scores of a group at shift", SCORE_BINS, "le", score_shares),
        ("The share flagged of a group at shift", PREDICTIONS, "result", result_shares),
    ]
    return {
        "displayName": "SoulSync model service: drift at shift",
        "documentation": {
            "mimeType": "text/markdown",
            "content": (
                f"Over the last day, for model {card.version}, a group's scores or its share "
                f"flagged moved from the reference the model was trained with: a population "
                f"stability index of at least {SHIFT_FROM} (`shift`), on at least "
                f"{LIVE_MINIMUM_COUNT} questionnaires of the group. What to do: "
                'docs/runbook.md, "Drift at shift".'
            ),
        },
        "severity": "WARNING",
        "combiner": "OR",
        "conditions": [
            {
                "displayName": name,
                "conditionPrometheusQueryLanguage": {
                    "query": psi_query(counter, label, card.version, shares),
                    "duration": "3600s",
                    "evaluationInterval": "600s",
                    # The counters exist once the collector has scraped an instance
                    # (_METRICS_SIDECAR); the names are checked by the test suite instead.
                    "disableMetricValidation": True,
                },
            }
            for name, counter, label, shares in conditions
        ],
        "alertStrategy": {"autoClose": "86400s"},
    }

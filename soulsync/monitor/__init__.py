"""`soulsync monitor`: the whole picture of drift, from exports of answers.

It scores the export with the shipped model (the service's own LiteRT runtime), counts it in
the layout the live counters use, and reads the same figures as `GET /monitoring` (the PSI of
each question, of the scores and of the results, per group, against the card's reference);
with outcomes, also how well the model does (ROC AUC, recall, specificity, calibration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from soulsync.inference import monitoring
from soulsync.inference.backends import load_backend
from soulsync.inference.card import ServingCard
from soulsync.inference.monitoring import CountLayout, Figure, GroupDrift, Status
from soulsync.monitor.exports import Export, read_exports
from soulsync.questionnaire import GROUP_KEY, GROUPS, KEYS
from soulsync.training import evaluate

SCOPE_EXPORT = "Every row of the export(s) given, from any number of instances."


@dataclass
class Monitoring:
    """What `soulsync monitor` found: the JSON summary, and what the report draws."""

    export: Export
    card: ServingCard
    probabilities: np.ndarray
    flagged: np.ndarray
    group_mix: Figure
    groups: dict[str, GroupDrift]
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        statuses = {self.group_mix.status} | {drift.worst for drift in self.groups.values()}
        for status in (Status.SHIFT, Status.WATCH, Status.TOO_FEW):
            if status in statuses:
                return status
        return Status.OK

    def summary(self) -> dict[str, Any]:
        def figure(item: Figure) -> dict[str, Any]:
            return {
                "name": item.name,
                "psi": item.psi,
                "status": item.status.value,
                "questionnaires": item.questionnaires,
            }

        export = self.export
        return {
            "scope": SCOPE_EXPORT,
            "status": self.status.value,
            "model_version": self.card.version,
            "files": export.files,
            "rows": len(export),
            "from": export.first_time.isoformat() if export.first_time else None,
            "to": export.last_time.isoformat() if export.last_time else None,
            "ignored_columns": export.ignored_columns,
            "cut_offs": {
                "watch_from": monitoring.WATCH_FROM,
                "shift_from": monitoring.SHIFT_FROM,
                "minimum_count": monitoring.MINIMUM_COUNT,
            },
            "group_mix": figure(self.group_mix),
            "groups": {
                group: {
                    "questionnaires": drift.questionnaires,
                    "status": drift.worst.value,
                    "flagged_share": drift.flagged_share,
                    "reference_flagged_share": drift.reference_flagged_share,
                    "figures": [figure(item) for item in drift.figures],
                    **({"outcomes": self.outcomes[group]} if group in self.outcomes else {}),
                }
                for group, drift in self.groups.items()
            },
        }


class MonitorError(ValueError):
    """The model cannot be monitored (its card has no drift reference)."""


def monitor(paths: list[Path], model_path: Path) -> Monitoring:
    """Read the exports, score them with the model at `model_path`, and compare."""
    card = ServingCard.read(model_path)
    if card.reference is None:
        raise MonitorError(f"{model_path}: its model card has no drift reference (an older build)")
    export = read_exports(paths)
    backend = load_backend(model_path)
    probabilities = backend.predict(export.answers.astype(np.float32))
    groups = export.answers[:, KEYS.index(GROUP_KEY)]
    thresholds = np.array([card.rules[GROUPS[int(g)]].threshold for g in groups])
    flagged = probabilities >= thresholds
    layout = CountLayout(card.reference.score_edges)
    counts = layout.count(export.answers, probabilities, flagged)
    found = Monitoring(
        export=export,
        card=card,
        probabilities=probabilities,
        flagged=flagged,
        group_mix=monitoring.group_mix(card.reference, layout, counts),
        groups=monitoring.drift(card.reference, layout, counts),
    )
    if export.outcomes is not None:
        for code, name in GROUPS.items():
            rows = groups == code
            if rows.any():
                figures = evaluate.evaluation(
                    export.outcomes[rows], probabilities[rows], flagged[rows]
                )
                found.outcomes[name] = {
                    "rows": figures.rows,
                    "positives": figures.positives,
                    "roc_auc": figures.scores.roc_auc,
                    "ece": figures.scores.ece,
                    "brier": figures.scores.brier,
                    "recall": figures.decisions.recall,
                    "specificity": figures.decisions.specificity,
                    "precision": figures.decisions.precision,
                    "flagged": figures.decisions.flagged,
                }
    return found

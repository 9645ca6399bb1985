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

from soulsync import evaluation
from soulsync.inference import monitoring
from soulsync.inference.model_folder import ServingCard
from soulsync.inference.monitoring import CountLayout, Figure, GroupDrift, Status
from soulsync.inference.screening import Screener
from soulsync.monitor.exports import Export, read_exports
from soulsync.questionnaire import GROUP_KEY, GROUPS, KEYS

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
        return monitoring.worst({self.group_mix.status} | {d.worst for d in self.groups.values()})

    def summary(self) -> dict[str, Any]:
        export = self.export
        found: dict[str, Any] = {
            "scope": SCOPE_EXPORT,
            "model_version": self.card.version,
            "files": export.files,
            "rows": len(export),
            "from": export.first_time.isoformat() if export.first_time else None,
            "to": export.last_time.isoformat() if export.last_time else None,
            "ignored_columns": export.ignored_columns,
            **monitoring.summary(self.group_mix, self.groups),
        }
        for group, outcomes in self.outcomes.items():
            found["groups"][group]["outcomes"] = outcomes
        return found


class MonitorError(ValueError):
    """The model cannot be monitored (its card has no drift reference)."""


def monitor(paths: list[Path], model_path: Path) -> Monitoring:
    """Read the exports, score them with the model at `model_path`, and compare."""
    screener = Screener.load(model_path)
    card = screener.card
    if card.reference is None:
        raise MonitorError(f"{model_path}: its model card has no drift reference (an older build)")
    export = read_exports(paths)
    probabilities, flagged = screener.score(export.answers)
    groups = export.answers[:, KEYS.index(GROUP_KEY)]
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
                figures = evaluation.evaluation(
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

"""`soulsync monitor`: the whole picture of drift, from exports of answers.

It scores the export with the shipped model (the service's own LiteRT runtime), counts it in
the layout the live counters use, and reads the same figures as `GET /monitoring` (the PSI of
each question, of the scores and of the results, per group, against the card's reference);
with outcomes, also how well the model does (ROC AUC, recall, specificity, calibration: ECE and
the calibration slope and intercept, with intervals) and whether a recalibration is due.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from soulsync.analysis import evaluation
from soulsync.analysis.exports import Export, read_exports
from soulsync.inference.drift import DRIFT_SCHEMA, Drift, Status, measure
from soulsync.inference.drift_counts import CountLayout
from soulsync.inference.model_folder import ServingCard
from soulsync.inference.screening import Screener
from soulsync.questionnaire import GROUP_COLUMN, GROUPS

#: The bootstrap intervals' seed: the same export gives the same report.
MONITOR_SEED = 20241101
SCOPE_EXPORT = "Every row of the export(s) given, from any number of instances."
#: A recalibration is due for a group whose calibration is off beyond the noise and by enough to
#: matter: it has the rows `soulsync recalibrate` needs, the 95 % interval of its calibration
#: slope leaves out 1 or that of its intercept leaves out 0, and its ECE is at least this (the
#: goal the shipped model meets on the survey's professionals).
DUE_ECE = 0.05
RECALIBRATION_RULE = (
    f"due for a group with at least {evaluation.CALIBRATION_MINIMUM} labelled rows of each "
    "outcome whose calibration slope's 95 % interval leaves out 1 or whose intercept's leaves "
    f"out 0, and whose ECE is at least {DUE_ECE}: then run `soulsync recalibrate` on these "
    "exports (docs/model.md)"
)


@dataclass
class Monitoring:
    """What `soulsync monitor` found: the JSON summary, and what the report draws."""

    export: Export
    card: ServingCard
    probabilities: np.ndarray
    flagged: np.ndarray
    drift: Drift
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        return self.drift.status

    def summary(self) -> dict[str, Any]:
        """summary.json: the export read, its drift as `GET /monitoring` writes it, and the
        figures against outcomes."""
        export = self.export
        summary: dict[str, Any] = {
            "files": export.files,
            "rows": len(export),
            "from": export.first_time.isoformat() if export.first_time else None,
            "to": export.last_time.isoformat() if export.last_time else None,
            "ignored_columns": export.ignored_columns,
            **DRIFT_SCHEMA.dump(self.drift),
        }
        for group, outcomes in self.outcomes.items():
            summary["groups"][group]["outcomes"] = outcomes
        if self.outcomes:
            summary["recalibration_rule"] = RECALIBRATION_RULE
        return summary


class MonitorError(ValueError):
    """The model cannot be monitored (its card has no drift reference)."""


def monitor(paths: list[Path], model_path: Path) -> Monitoring:
    """Read the exports, score them with the model at `model_path`, and compare."""
    screener = Screener.load(model_path)
    card = screener.card
    if card.drift_reference is None:
        raise MonitorError(f"{model_path}: its model card has no drift reference (an older build)")
    export = read_exports(paths)
    probabilities, flagged = screener.score(export.answers)
    groups = export.answers[:, GROUP_COLUMN]
    layout = CountLayout(card.drift_reference.score_edges)
    counts = layout.count(export.answers, probabilities, flagged)
    monitoring = Monitoring(
        export=export,
        card=card,
        probabilities=probabilities,
        flagged=flagged,
        drift=measure(card.drift_reference, layout, counts, SCOPE_EXPORT, card.version),
    )
    if export.outcomes is not None:
        for code, name in GROUPS.items():
            rows = groups == code
            if rows.any():
                monitoring.outcomes[name] = outcome_figures(
                    export.outcomes[rows], probabilities[rows], flagged[rows]
                )
    return monitoring


def outcome_figures(
    labels: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray
) -> dict[str, Any]:
    """One group's figures against its outcomes, and whether a recalibration is due."""
    figures = evaluation.evaluate(labels, probabilities, flagged)
    calibration = evaluation.probability_figures(labels, probabilities, MONITOR_SEED)
    slope, intercept = calibration.calibration_slope, calibration.calibration_intercept
    enough = min(figures.positives, figures.rows - figures.positives) >= (
        evaluation.CALIBRATION_MINIMUM
    )
    off = (slope is not None and not slope.low <= 1.0 <= slope.high) or (
        intercept is not None and not intercept.low <= 0.0 <= intercept.high
    )
    return {
        "rows": figures.rows,
        "positives": figures.positives,
        "roc_auc": figures.scores.roc_auc,
        "ece": figures.scores.ece,
        "calibration_slope": asdict(slope) if slope else None,
        "calibration_intercept": asdict(intercept) if intercept else None,
        "brier": figures.scores.brier,
        "recall": figures.decisions.recall,
        "specificity": figures.decisions.specificity,
        "precision": figures.decisions.precision,
        "flagged": figures.decisions.flagged,
        "recalibration_due": bool(enough and off and figures.scores.ece >= DUE_ECE),
    }

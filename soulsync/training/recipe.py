"""The training recipe: every setting that determines the model, fixed in the code before any
result was seen. Every random choice hangs off SEED; no seed or split is searched. The settings
are recorded in the card and are part of the model's version."""

from __future__ import annotations

from dataclasses import asdict

from soulsync.analysis import evaluation, rule_choice
from soulsync.analysis.rule_choice import BAND_STARTS
from soulsync.inference.drift import SCORE_EDGES
from soulsync.training.model import CANDIDATES

SEED = 20241101
TEST_SHARE = 0.20  # of all rows, touched once for the final report
FOLDS = 5
#: The stress family (training/stress.py): how many steepness factors of each group's range
#: are tried, and the base rates, as factors on the group's odds in the survey.
STRESS_STEEPNESS_POINTS = 9
STRESS_ODDS_RATIOS = (0.5, 1.0, 2.0)
#: Criteria closer than this are a tie, and the simpler candidate ships.
LOG_LOSS_TIE = 0.002
#: A more complex candidate must be better in at least this share of the paired bootstrap
#: resamples: better beyond the noise of the survey's rows, not only on this draw of them.
SELECTION_CONFIDENCE = 0.95
SELECTION_RULE = (
    "the candidates are taken from the simplest to the most complex, and a candidate replaces "
    "the one chosen so far only if its stress criterion is lower by more than "
    f"{LOG_LOSS_TIE} and lower in at least {SELECTION_CONFIDENCE:.0%} of "
    f"{evaluation.BOOTSTRAP_RESAMPLES} paired bootstrap resamples of the development rows. The "
    "stress criterion is the log loss (a proper scoring rule: the service reports "
    "probabilities) split in two and taken per group: what the candidate's ranking allows on "
    "the survey, plus what its miscalibration costs at the worst population of the stress "
    "family; then the mean over the two groups"
)


def configuration(epochs: int | None) -> dict:
    """Every setting of the run that determines the model (part of its version)."""
    return {
        "seed": SEED,
        "test_share": TEST_SHARE,
        "folds": FOLDS,
        "log_loss_tie": LOG_LOSS_TIE,
        "selection_confidence": SELECTION_CONFIDENCE,
        "stress_steepness_points": STRESS_STEEPNESS_POINTS,
        "stress_odds_ratios": list(STRESS_ODDS_RATIOS),
        "target_recall": rule_choice.TARGET_RECALL,
        "band_starts": list(BAND_STARTS),
        "bootstrap_resamples": evaluation.BOOTSTRAP_RESAMPLES,
        "score_edges": list(SCORE_EDGES),
        "epochs_override": epochs,
        "candidates": [asdict(candidate) for candidate in CANDIDATES],
    }

"""The training recipe: every setting that determines the model, fixed in the code before any
result was seen. Every random choice hangs off SEED; no seed or split is searched. The settings
are recorded in the card and are part of the model's version."""

from __future__ import annotations

from dataclasses import asdict

from soulsync import evaluation
from soulsync.inference.monitoring import SCORE_EDGES
from soulsync.training.decision import BAND_STARTS
from soulsync.training.model import CANDIDATES

SEED = 20241101
TEST_SHARE = 0.20  # of all rows, touched once for the final report
FOLDS = 5
#: Mean CV log losses closer than this are a tie, and the simpler candidate ships.
LOG_LOSS_TIE = 0.002
SELECTION_RULE = (
    f"lowest mean cross-validated log loss (the service reports probabilities, so a proper "
    f"scoring rule judges); a tie (within {LOG_LOSS_TIE}) ships the simpler candidate"
)


def configuration(epochs: int | None) -> dict:
    """Every setting of the run that determines the model (part of its version)."""
    return {
        "seed": SEED,
        "test_share": TEST_SHARE,
        "folds": FOLDS,
        "log_loss_tie": LOG_LOSS_TIE,
        "target_recall": evaluation.TARGET_RECALL,
        "band_starts": list(BAND_STARTS),
        "bootstrap_resamples": evaluation.BOOTSTRAP_RESAMPLES,
        "score_edges": list(SCORE_EDGES),
        "epochs_override": epochs,
        "candidates": [asdict(candidate) for candidate in CANDIDATES],
    }

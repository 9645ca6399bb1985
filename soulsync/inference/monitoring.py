"""Drift: how far the answers and scores the service sees have moved from those the model
learned from. The reference is saved in the model card at training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def score_bins(edges: Sequence[float], probabilities: np.ndarray) -> np.ndarray:
    """The bin of each probability: bin i holds edges[i-1] <= p < edges[i] (inner edges)."""
    return np.searchsorted(np.asarray(edges), probabilities, side="right")

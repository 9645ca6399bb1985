"""The monitoring reference saved in the card: how each group answered and was scored in the
data the shipped model was fit on, for the drift checks of `GET /monitoring` and
`soulsync monitor`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from soulsync.inference.card import DriftReference, GroupDriftReference
from soulsync.inference.decision import DecisionRule, flag
from soulsync.inference.drift import SCORE_EDGES, score_bins
from soulsync.questionnaire import GROUPS, QUESTIONS

SOURCE = "the development part of the survey (the rows the shipped model was fit on), scored by "
SOURCE += "the shipped model"


def build_reference(
    answers: np.ndarray,
    groups: np.ndarray,
    probabilities: np.ndarray,
    rules: Mapping[str, DecisionRule],
    source: str = SOURCE,
) -> DriftReference:
    flagged = flag(probabilities, groups, rules)
    bins = score_bins(SCORE_EDGES, probabilities)
    by_group = {}
    for code, name in GROUPS.items():
        rows = groups == code
        count = int(rows.sum())
        if count == 0:  # a group absent from the rows has no reference here
            continue
        by_group[name] = GroupDriftReference(
            rows=count,
            answers={
                q.key: [float((answers[rows, i] == c).mean()) for c in q.codes]
                for i, q in enumerate(QUESTIONS)
            },
            scores=(np.bincount(bins[rows], minlength=len(SCORE_EDGES) + 1) / count).tolist(),
            flagged=float(flagged[rows].mean()),
        )
    return DriftReference(source=source, score_edges=list(SCORE_EDGES), groups=by_group)

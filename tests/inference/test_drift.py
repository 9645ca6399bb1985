"""The drift figures: PSI, its cut-offs, the count layout, and what is withheld when few."""

from __future__ import annotations

import numpy as np
import pytest

from soulsync.inference import drift
from soulsync.inference.drift import Status, psi, score_bins, status_of
from soulsync.inference.drift_counts import CountLayout
from soulsync.inference.model_folder import DEFAULT_MODEL_PATH, read_card
from soulsync.questionnaire import CONTRACT_EXAMPLE, KEYS, QUESTIONS

CARD = read_card(DEFAULT_MODEL_PATH)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_move() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert 0 < psi([0.55, 0.45], [0.5, 0.5]) < psi([0.8, 0.2], [0.5, 0.5])
    assert np.isfinite(psi([1.0, 0.0], [0.0, 1.0]))


@pytest.mark.parametrize(
    ("index", "status"),
    [(0.0, Status.OK), (0.0999, Status.OK), (0.1, Status.WATCH), (0.25, Status.SHIFT)],
)
def test_cut_offs(index: float, status: Status) -> None:
    assert status_of(index) is status


def test_score_bins_are_prometheus_le_buckets() -> None:
    edges = [0.1, 0.5]
    assert score_bins(edges, np.array([0.0, 0.1, 0.1001, 0.5, 0.9])).tolist() == [0, 0, 1, 1, 2]


def test_each_answer_lands_in_its_own_slot() -> None:
    layout = CountLayout(CARD.drift_reference.score_edges)
    answers = np.array([[CONTRACT_EXAMPLE[k] for k in KEYS]])
    counts = layout.count(answers, np.array([0.3]), np.array([False]))
    seen = layout.group_counts(counts, "students")
    assert seen.questionnaires == 1 and (seen.negative, seen.positive) == (1, 0)
    for question in QUESTIONS:
        expected = [int(code == CONTRACT_EXAMPLE[question.key]) for code in question.codes]
        assert seen.answers[question.key] == expected
    assert layout.group_counts(counts, "professionals").questionnaires == 0
    assert counts.sum() == len(KEYS) + 2


def test_few_questionnaires_withhold_every_share() -> None:
    layout = CountLayout(CARD.drift_reference.score_edges)
    answers = np.array([[CONTRACT_EXAMPLE[k] for k in KEYS]] * (drift.MINIMUM_COUNT - 1))
    n = len(answers)
    counts = layout.count(answers, np.full(n, 0.3), np.zeros(n, bool))
    students = drift.drift_by_group(CARD.drift_reference, layout, counts)["students"]
    assert students.questionnaires == n and students.flagged_share is None
    assert {figure.status for figure in students.figures} == {Status.TOO_FEW}
    assert {figure.psi for figure in students.figures} == {None}


def test_scores_are_counted_in_the_bins_the_reference_was_made_with() -> None:
    """Live counts and exports place a score with slots_of; the card's reference was made with
    score_bins: both must agree at every edge."""
    layout = CountLayout(CARD.drift_reference.score_edges)
    probabilities = [*layout.score_edges, 0.0, 1.0, *np.linspace(0, 1, 501).tolist()]
    expected = score_bins(layout.score_edges, np.array(probabilities)).tolist()
    answers = [CONTRACT_EXAMPLE[k] for k in KEYS]
    first_score_slot = layout.group_slots("students").scores[0]
    for probability, bin_ in zip(probabilities, expected, strict=True):
        assert layout.slots_of(answers, probability, False)[-2] - first_score_slot == bin_

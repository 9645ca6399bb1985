"""The drift counts leave a worker in steps, with noise (soulsync/metrics.py): nothing before a
step, every step's counts with noise drawn for it alone, counters that never go down, and the
differencing attack of someone who sends every other questionnaire of a step held to the
stated bound, where without the noise it read the last person's answer every time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from soulsync.inference.drift import SCORE_EDGES
from soulsync.inference.drift_counts import CountLayout
from soulsync.metrics import EPSILON, PUBLISH_EVERY, DiscreteLaplace, LiveCounts, ServiceMetrics
from soulsync.questionnaire import CONTRACT_EXAMPLE, KEYS

LAYOUT = CountLayout(SCORE_EDGES)
STUDENT = np.array([[CONTRACT_EXAMPLE[key] for key in KEYS]])
SUICIDAL = KEYS.index("SuicidalTh")


def counts(noise=None) -> LiveCounts:
    return LiveCounts(LAYOUT, "v1", ServiceMetrics(), noise)


def screen(live: LiveCounts, rows: np.ndarray) -> None:
    live.add(rows, np.full(len(rows), 0.3), np.zeros(len(rows), dtype=bool))


def no_noise(size: int) -> np.ndarray:
    return np.zeros(size, dtype=np.int64)


def test_nothing_is_published_before_a_step_and_all_of_it_after() -> None:
    live = counts(no_noise)
    screen(live, np.repeat(STUDENT, PUBLISH_EVERY - 1, axis=0))
    assert live.published().sum() == 0
    screen(live, STUDENT)
    students = LAYOUT.group_counts(live.published(), "students")
    assert students.questionnaires == PUBLISH_EVERY
    assert students.answers["Pressure"][3] == PUBLISH_EVERY  # Pressure 4


def test_the_noise_falls_by_e_to_the_epsilon_per_unit() -> None:
    draws = DiscreteLaplace(EPSILON, np.random.default_rng(7))(200_000)
    assert abs(draws.mean()) < 0.05
    for k in (0, 1, 2):
        ratio = np.mean(draws == k) / np.mean(draws == k + 1)
        assert ratio == pytest.approx(math.exp(EPSILON), rel=0.05)


def test_counters_never_go_down_and_the_noise_evens_out() -> None:
    live = counts(DiscreteLaplace(EPSILON, np.random.default_rng(11)))
    before = live.published()
    for _ in range(50):
        screen(live, np.repeat(STUDENT, PUBLISH_EVERY, axis=0))
        now = live.published()
        assert (now >= before).all()
        before = now
    students = LAYOUT.group_counts(before, "students")
    # 5,000 questionnaires: every one is a negative result with Pressure 4; the options and
    # the result no one chose hold noise alone, what little stayed above zero.
    assert abs(students.answers["Pressure"][3] - 5_000) <= 60
    assert students.answers["Pressure"][0] <= 60 and students.positive <= 60


def attack(noise, victims: np.ndarray) -> float:
    """The red team's differencing attack, on each victim in turn: the attacker's own 99
    questionnaires (no suicidal thoughts) fill a step but one, the victim completes it, and the
    attacker reads the victim's answer to SuicidalTh from the published counters' increments.
    The share of victims whose answer it got right."""
    live = counts(noise)
    yes = LAYOUT.group_slots("students").answers["SuicidalTh"]
    right = 0
    for answer in victims.tolist():
        before = live.published()
        screen(live, np.repeat(STUDENT, PUBLISH_EVERY - 1, axis=0))
        victim = STUDENT.copy()
        victim[0, SUICIDAL] = answer
        screen(live, victim)
        increase = live.published() - before
        # What the step would hold without the victim: 99 answers "no", none "yes".
        evidence = (increase[yes[1]] - 0) - (increase[yes[0]] - (PUBLISH_EVERY - 1))
        right += int((evidence > 0) == bool(answer))
    return right / len(victims)


def test_the_differencing_attack_learns_no_more_than_the_bound() -> None:
    victims = np.random.default_rng(3).integers(0, 2, 1000)
    assert attack(no_noise, victims) == 1.0  # counts in exact steps: every answer read back
    guessed = attack(DiscreteLaplace(EPSILON, np.random.default_rng(5)), victims)
    # An answer moves two counters by one each: no test tells the two answers apart more often
    # than e**(2 EPSILON) / (1 + e**(2 EPSILON)) (73 % at EPSILON 0.5), give or take the
    # sampling of 1,000 victims.
    bound = math.exp(2 * EPSILON) / (1 + math.exp(2 * EPSILON))
    assert guessed <= bound + 3 * math.sqrt(bound * (1 - bound) / len(victims))


def test_a_worker_that_exits_publishes_what_it_holds_once_its_life_reached_a_step() -> None:
    live = counts(no_noise)
    screen(live, np.repeat(STUDENT, PUBLISH_EVERY + 37, axis=0))
    live.flush()
    assert LAYOUT.group_counts(live.published(), "students").questionnaires == PUBLISH_EVERY + 37
    newcomer = counts(no_noise)
    screen(newcomer, np.repeat(STUDENT, PUBLISH_EVERY - 1, axis=0))
    newcomer.flush()  # never a step in its life: fewer than a step is never published
    assert newcomer.published().sum() == 0

"""What the drift counts' noise buys against the differencing attack, and costs the drift alert.

The noise is soulsync/metrics.py's, EPSILON per published count. Buys: how often the
differencing attack (send 99 questionnaires of a step, read the 100th person's answer to a
yes/no question from the counters' increments) reads that answer right, without and with the
noise. Costs the drift alert: per group, the PSI of the scores and of the results over a day's
questionnaires, from exact counts and from the noisy counts the service publishes (steps of
PUBLISH_EVERY, each count with its own noise, below zero carried on), for several daily volumes;
without drift (how often the alert fires wrongly) and with a drift whose exact PSI is about 0.3
(how often it fires rightly). The questionnaires are drawn from the shipped model's drift
reference.

    python -m bench drift-noise [--trials 300]
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from soulsync.inference.drift import MINIMUM_COUNT, SHIFT_FROM, psi
from soulsync.inference.model_folder import DEFAULT_MODEL_PATH, read_card
from soulsync.metrics import EPSILON, PUBLISH_EVERY, DiscreteLaplace, with_noise

VOLUMES = (200, 500, 1_000, 2_000, 10_000)
#: The drifted day: this share of the questionnaires scored in the top three bins instead.
DRIFT_SHARE = 0.3


def published(rng: np.random.Generator, noise: DiscreteLaplace | None, shares, volume: int):
    """A day's counts over the bins of `shares`, published in steps, exact or with noise."""
    total = np.zeros(len(shares), dtype=np.int64)
    owed = np.zeros(len(shares), dtype=np.int64)
    for _ in range(volume // PUBLISH_EVERY):
        step = rng.multinomial(PUBLISH_EVERY, shares)
        if noise is not None:
            step, owed = with_noise(step, noise(len(shares)), owed)
        total += step
    return total


def index(counts: np.ndarray, reference) -> float:
    return psi((counts / counts.sum()).tolist(), list(reference))


def attack(rng: np.random.Generator, noise: DiscreteLaplace | None, victims: int) -> float:
    """The share of victims whose yes/no answer the attacker reads right: it knows the 99 other
    answers of the step (all "no"), and guesses "yes" where the "yes" count grew by more than the
    "no" count grew beyond its 99."""
    right, owed = 0, np.zeros(2, dtype=np.int64)
    for answer in rng.integers(0, 2, victims).tolist():
        step = np.array([PUBLISH_EVERY - 1 + (1 - answer), answer])
        if noise is not None:
            step, owed = with_noise(step, noise(2), owed)
        right += int((step[1] - (step[0] - (PUBLISH_EVERY - 1)) > 0) == bool(answer))
    return right / victims


def run(trials: int) -> None:
    card = read_card(DEFAULT_MODEL_PATH)
    reference = card.drift_reference
    rng = np.random.default_rng(20261207)
    noise = DiscreteLaplace(EPSILON, np.random.default_rng(20261208))
    bound = math.exp(2 * EPSILON) / (1 + math.exp(2 * EPSILON))
    print(
        f"differencing attack on a yes/no answer, 10,000 victims: read right "
        f"{attack(rng, None, 10_000):.1%} of the time without noise, "
        f"{attack(rng, noise, 10_000):.1%} with it (the bound at EPSILON {EPSILON}: "
        f"{bound:.1%})\n"
    )
    print(f"EPSILON {EPSILON} per published count, steps of {PUBLISH_EVERY}, {trials} days each")
    print(f"{'group':14s}{'figure':8s}{'a day':>8s}{'drift':>7s}{'PSI exact':>11s}"
          f"{'PSI noisy':>11s}{'fires exact':>13s}{'fires noisy':>13s}")  # fmt: skip
    for group, expected in reference.groups.items():
        scores = np.asarray(expected.scores)
        results = np.array([1 - expected.flagged, expected.flagged])
        top = np.zeros_like(scores)
        top[-3:] = 1 / 3
        drifted_scores = (1 - DRIFT_SHARE) * scores + DRIFT_SHARE * top
        for figure, shares, drifted in (
            ("score", scores, drifted_scores),
            ("result", results, np.array([0.6 * results[0], 1 - 0.6 * results[0]])),
        ):
            for volume in VOLUMES:
                for drift, truth in (("no", shares), ("yes", drifted)):
                    exact, noisy = [], []
                    for _ in range(trials):
                        exact.append(index(published(rng, None, truth, volume), shares))
                        noisy.append(index(published(rng, noise, truth, volume), shares))
                    exact_a, noisy_a = np.array(exact), np.array(noisy)
                    judged = volume >= MINIMUM_COUNT
                    print(
                        f"{group:14s}{figure:8s}{volume:8,d}{drift:>7s}"
                        f"{np.median(exact_a):11.4f}{np.median(noisy_a):11.4f}"
                        f"{(exact_a >= SHIFT_FROM).mean() * judged:13.1%}"
                        f"{(noisy_a >= SHIFT_FROM).mean() * judged:13.1%}"
                    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    run(parser.parse_args(argv).trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())

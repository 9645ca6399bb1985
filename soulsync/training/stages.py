"""The training stages: split the rows, cross-validate the candidates (each also fitted on the
whole development part and scored on the test split, for the card), stress-test them, select
one, and score rows with a model. `pipeline.run` runs them in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from soulsync.analysis import evaluation
from soulsync.inference.figures import Scores
from soulsync.inference.selection import StressFamily
from soulsync.training.data import Dataset
from soulsync.training.model import (
    CANDIDATES,
    LINEAR,
    Candidate,
    build,
    shrink_student_slope,
    trained_as,
)
from soulsync.training.recipe import (
    FOLDS,
    LOG_LOSS_TIE,
    SEED,
    SELECTION_CONFIDENCE,
    TEST_SHARE,
)
from soulsync.training.stress import StressRun, family, shared_score_slopes, stress_test

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Split:
    development: np.ndarray  # row indices: cross-validation, the rules, the shipped fit
    test: np.ndarray  # row indices: touched once, at the end


@dataclass(frozen=True)
class CandidateRun:
    candidate: Candidate
    out_of_fold: np.ndarray  # one probability per development row
    folds: list[Scores]
    parameters: int
    model: keras.Model  # fitted on the whole development part
    test: np.ndarray  # that model's probability for each test row

    @property
    def mean_log_loss(self) -> float:
        return float(np.mean([fold.log_loss for fold in self.folds]))


def split_rows(data: Dataset) -> Split:
    """Development and test row indices, stratified on label and group together."""
    strata = data.labels * 2 + data.groups
    development, test = train_test_split(
        np.arange(len(data)), test_size=TEST_SHARE, stratify=strata, random_state=SEED
    )
    return Split(np.sort(development), np.sort(test))


def cross_validate(
    data: Dataset, split: Split, epochs: int | None, progress: Progress
) -> list[CandidateRun]:
    """Every candidate under the same folds of the development rows (out-of-fold predictions
    and each fold's figures), then fitted on the whole development part and scored on the test
    split. A shrunk candidate reuses group_scale's fits: shrinking happens after the fit."""
    dev = split.development
    x, y, groups = data.answers[dev], data.labels[dev], data.groups[dev]
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y * 2 + groups))
    fitted: dict[tuple[str, str], keras.Model] = {}
    runs = []
    for candidate in CANDIDATES:
        predictions = np.zeros(len(dev))
        fold_scores = []
        for k, (fit_rows, held_rows) in enumerate(folds):
            rows = (x[fit_rows], y[fit_rows], groups[fit_rows])
            model = fit(candidate, *rows, SEED + k, epochs, (fitted, f"fold {k}"))
            predictions[held_rows] = predict(model, x[held_rows])
            fold_scores.append(evaluation.scores(y[held_rows], predictions[held_rows]))
        final = fit(candidate, x, y, groups, SEED, epochs, (fitted, "development"))
        runs.append(
            CandidateRun(
                candidate=candidate,
                out_of_fold=predictions,
                folds=fold_scores,
                parameters=final.count_params(),
                model=final,
                test=predict(final, data.answers[split.test]),
            )
        )
        spreads = evaluation.fold_spreads(fold_scores)
        progress(
            f"{candidate.name:13s} {FOLDS}-fold CV: log loss {spreads['log_loss'].mean:.4f}, "
            f"AUC {spreads['roc_auc'].mean:.4f}, ECE {spreads['ece'].mean:.3f}"
        )
    return runs


def stress_family(runs: list[CandidateRun], labels: np.ndarray, groups: np.ndarray) -> StressFamily:
    """The shifted populations, from the groups' slopes on the shared score (`linear`)."""
    (shared,) = (run_ for run_ in runs if run_.candidate is LINEAR)
    return family(shared_score_slopes(labels, groups, shared.out_of_fold))


def stress_runs(
    runs: list[CandidateRun], labels: np.ndarray, groups: np.ndarray, shifts: StressFamily
) -> list[StressRun]:
    """Each candidate under the stress family, on the same bootstrap resamples."""
    return [stress_test(labels, run_.out_of_fold, groups, shifts, SEED) for run_ in runs]


def select(stresses: list[StressRun]) -> int:
    """The index of the candidate that ships: CANDIDATES run from simplest to most complex, and
    a later one replaces the choice only if its stress criterion is lower by more than a tie
    and in at least SELECTION_CONFIDENCE of the paired resamples (recipe.SELECTION_RULE)."""
    chosen = 0
    for index, run_ in enumerate(stresses[1:], start=1):
        current = stresses[chosen]
        better = run_.stress.criterion.value < current.stress.criterion.value - LOG_LOSS_TIE
        share = float(np.mean(run_.resampled < current.resampled))
        if better and share >= SELECTION_CONFIDENCE:
            chosen = index
    return chosen


def fit(
    candidate: Candidate,
    answers: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    seed: int,
    epochs: int | None,
    cache: tuple[dict[tuple[str, str], keras.Model], str] | None = None,
) -> keras.Model:
    """The candidate fitted on these rows. `cache` (fits kept by candidate and the name of the
    rows) lets the shrunk candidates shrink group_scale's fit of the same rows instead of
    repeating it."""
    trained = trained_as(candidate)
    fitted, rows_name = cache if cache is not None else ({}, "")
    key = (trained.name, rows_name)
    if key not in fitted:
        keras.utils.set_random_seed(seed)
        model = build(trained, labels, groups)
        model.fit(
            answers.astype(np.float32),
            labels.astype(np.float32),
            epochs=epochs or trained.epochs,
            batch_size=trained.batch_size,
            shuffle=True,
            verbose=0,
        )
        fitted[key] = model
    if candidate.student_slope_kept is None:
        return fitted[key]
    return shrink_student_slope(fitted[key], candidate.student_slope_kept, answers, labels, groups)


def predict(model: keras.Model, answers: np.ndarray) -> np.ndarray:
    return np.asarray(model(answers.astype(np.float32), training=False)).reshape(-1)

"""The training stages: split the rows, cross-validate the candidates, select one, fit it, and
score rows with it. `pipeline.run` runs them in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from soulsync import evaluation
from soulsync.inference.card import Scores
from soulsync.training.data import Dataset
from soulsync.training.model import CANDIDATES, Candidate, build
from soulsync.training.recipe import FOLDS, LOG_LOSS_TIE, SEED, TEST_SHARE

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
    """Every candidate under the same folds of the development rows: out-of-fold predictions
    and each fold's figures."""
    dev = split.development
    x, y, groups = data.answers[dev], data.labels[dev], data.groups[dev]
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y * 2 + groups))
    runs = []
    for candidate in CANDIDATES:
        predictions = np.zeros(len(dev))
        fold_scores = []
        for k, (fit_rows, held_rows) in enumerate(folds):
            model = fit(candidate, x[fit_rows], y[fit_rows], groups[fit_rows], SEED + k, epochs)
            predictions[held_rows] = predict(model, x[held_rows])
            fold_scores.append(evaluation.scores(y[held_rows], predictions[held_rows]))
        runs.append(CandidateRun(candidate, predictions, fold_scores, model.count_params()))
        spreads = evaluation.fold_spreads(fold_scores)
        progress(
            f"{candidate.name:13s} {FOLDS}-fold CV: log loss {spreads['log_loss'].mean:.4f}, "
            f"AUC {spreads['roc_auc'].mean:.4f}, ECE {spreads['ece'].mean:.3f}"
        )
    return runs


def select(runs: list[CandidateRun]) -> CandidateRun:
    """CANDIDATES run from simplest to most complex: a later one must beat by more than a tie."""
    chosen = runs[0]
    for run_ in runs[1:]:
        if run_.mean_log_loss < chosen.mean_log_loss - LOG_LOSS_TIE:
            chosen = run_
    return chosen


def fit(
    candidate: Candidate,
    answers: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    seed: int,
    epochs: int | None,
) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = build(candidate, labels, groups)
    model.fit(
        answers.astype(np.float32),
        labels.astype(np.float32),
        epochs=epochs or candidate.epochs,
        batch_size=candidate.batch_size,
        shuffle=True,
        verbose=0,
    )
    return model


def predict(model: keras.Model, answers: np.ndarray) -> np.ndarray:
    return np.asarray(model(answers.astype(np.float32), training=False)).reshape(-1)

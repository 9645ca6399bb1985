"""The training pipeline, as named stages: load, split, cross-validate the candidates, select,
fit, decide each group's rule, test once, export, and write the card and the report.

Every random choice hangs off SEED, fixed in the code before any result was seen; no seed or
split is searched. The test split is touched once, at the end. The same data, code and
libraries give the same version, on any machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.model_selection import StratifiedKFold, train_test_split

from soulsync.inference.card import (
    CARD_FORMAT,
    Artifacts,
    CandidateResult,
    Count,
    CrossValidation,
    DataFacts,
    Feature,
    ModelCard,
    ModelInfo,
    Scores,
    Selection,
    Training,
)
from soulsync.inference.model_folder import (
    CARD_FILE,
    KERAS_FILE,
    REPORT_FILE,
    TFLITE_FILE,
    write_card,
)
from soulsync.inference.monitoring import SCORE_EDGES
from soulsync.questionnaire import GROUPS, QUESTIONS, STUDENT
from soulsync.training import evaluate
from soulsync.training.data import Dataset, load_dataset
from soulsync.training.decision import BAND_STARTS, decide
from soulsync.training.export import (
    PARITY_TOLERANCE,
    model_version,
    parity,
    provenance,
    save_artifacts,
    weights_sha256,
)
from soulsync.training.model import CANDIDATES, Candidate, build, encoding_of
from soulsync.training.reference import build_reference
from soulsync.training.report import write_report

SEED = 20241101
TEST_SHARE = 0.20  # of all rows, touched once for the final report
FOLDS = 5
#: Mean CV log losses closer than this are a tie, and the simpler candidate ships.
LOG_LOSS_TIE = 0.002
SELECTION_RULE = (
    f"lowest mean cross-validated log loss (the service reports probabilities, so a proper "
    f"scoring rule judges); a tie (within {LOG_LOSS_TIE}) ships the simpler candidate"
)

INTENDED_USE = (
    "Screening aid for the SoulSync app: after the daily ten-question self-report, it estimates "
    "the risk that the person would report depression, so that the app can suggest talking to "
    "a professional. It is not a diagnosis and must never be presented as one."
)

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


def run(
    data_dir: Path, out_dir: Path, *, epochs: int | None = None, progress: Progress = print
) -> ModelCard:
    """Train, evaluate and export; returns the model card that it also writes to `out_dir`."""
    started = time.perf_counter()

    def step(message: str) -> None:
        progress(f"[{time.perf_counter() - started:5.0f} s] {message}")

    tf.config.experimental.enable_op_determinism()
    data = load_dataset(data_dir)
    step(f"loaded {len(data)} rows ({int(data.labels.sum())} positive) from {data_dir}")
    split = split_rows(data)
    runs = cross_validate(data, split, epochs, step)
    chosen = select(runs)
    step(f"selected '{chosen.candidate.name}' ({SELECTION_RULE})")

    x, y, groups = data.answers, data.labels, data.groups
    dev = split.development
    model = fit(chosen.candidate, x[dev], y[dev], groups[dev], SEED, epochs)
    step(f"fitted '{chosen.candidate.name}' on the {len(dev)} development rows")
    decision = decide(
        y[dev], chosen.out_of_fold, groups[dev], lambda rows: predict(model, rows), SEED
    )
    rules = {name: group.rule() for name, group in decision.groups.items()}
    step(
        "thresholds "
        + ", ".join(f"{name} {group.threshold:.4f}" for name, group in decision.groups.items())
    )

    test_probabilities = predict(model, x[split.test])
    test = evaluate.grouped_evaluation(y[split.test], test_probabilities, groups[split.test], rules)
    step("evaluated once on the test split")

    save_artifacts(model, out_dir, KERAS_FILE, TFLITE_FILE)
    parity_figures = parity(out_dir / KERAS_FILE, out_dir / TFLITE_FILE, x)
    if parity_figures.max_abs_diff > PARITY_TOLERANCE:
        raise RuntimeError(
            f"Lite and Keras models disagree by {parity_figures.max_abs_diff:g}"
            f" (tolerance {PARITY_TOLERANCE:g})"
        )
    source = provenance([s.sha256 for s in data.sources], configuration(epochs))
    version = model_version(source)
    step(f"exported model {version}")

    card = ModelCard(
        format=CARD_FORMAT,
        name="soulsync-depression-screening",
        version=version,
        weights_sha256=weights_sha256(model),
        model=model_info(chosen.candidate, epochs),
        features=[
            Feature(
                key=q.key,
                codes=list(q.codes),
                encoding=encoding_of(q),
                reference=int(np.bincount(x[dev][:, i]).argmax()),
            )
            for i, q in enumerate(QUESTIONS)
        ],
        reference_rule="the most common answer in the development part; a factor's effect is "
        "the change in probability when the answer is replaced by it",
        decision=decision,
        selection=Selection(
            rule=SELECTION_RULE,
            chosen=chosen.candidate.name,
            candidates=[candidate_result(run_, y[dev], groups[dev]) for run_ in runs],
        ),
        cross_validation=CrossValidation(
            folds=FOLDS,
            rows=len(dev),
            out_of_fold=evaluate.grouped_evaluation(y[dev], chosen.out_of_fold, groups[dev], rules),
            spread=evaluate.fold_spreads(chosen.folds),
        ),
        test=test,
        calibration_bins=evaluate.CALIBRATION_BINS,
        parity=parity_figures,
        data=data_facts(data, split),
        provenance=source,
        reference=build_reference(x[dev], groups[dev], predict(model, x[dev]), rules),
        intended_use=INTENDED_USE,
        limitations=limitations(data),
        artifacts=Artifacts(keras=KERAS_FILE, tflite=TFLITE_FILE, report=REPORT_FILE),
    )
    write_card(card, out_dir)
    write_report(out_dir / REPORT_FILE, card, y[split.test], test_probabilities, groups[split.test])
    step(f"wrote {out_dir / CARD_FILE} and {REPORT_FILE}")
    progress(summary(card, time.perf_counter() - started))
    return card


# --- the stages ------------------------------------------------------------------------------


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
            fold_scores.append(evaluate.scores(y[held_rows], predictions[held_rows]))
        runs.append(CandidateRun(candidate, predictions, fold_scores, model.count_params()))
        spreads = evaluate.fold_spreads(fold_scores)
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


# --- what the card says ------------------------------------------------------------------------


def candidate_result(run_: CandidateRun, labels: np.ndarray, groups: np.ndarray) -> CandidateResult:
    """One candidate's cross-validated figures, and each group's at its own thresholds."""
    by_group = {}
    for code, name in GROUPS.items():
        rows = groups == code
        y, p = labels[rows], run_.out_of_fold[rows]
        threshold = evaluate.choose_threshold(y, p)
        by_group[name] = evaluate.evaluation(y, p, p >= threshold)
    spreads = evaluate.fold_spreads(run_.folds)
    return CandidateResult(
        name=run_.candidate.name,
        description=run_.candidate.description,
        parameters=run_.parameters,
        log_loss=spreads["log_loss"],
        roc_auc=spreads["roc_auc"],
        brier=spreads["brier"],
        ece=spreads["ece"],
        folds=run_.folds,
        by_group=by_group,
    )


def configuration(epochs: int | None) -> dict:
    """Every setting of the run that determines the model (part of its version)."""
    return {
        "seed": SEED,
        "test_share": TEST_SHARE,
        "folds": FOLDS,
        "log_loss_tie": LOG_LOSS_TIE,
        "target_recall": evaluate.TARGET_RECALL,
        "band_starts": list(BAND_STARTS),
        "bootstrap_resamples": evaluate.BOOTSTRAP_RESAMPLES,
        "score_edges": list(SCORE_EDGES),
        "epochs_override": epochs,
        "candidates": [asdict(candidate) for candidate in CANDIDATES],
    }


def model_info(candidate: Candidate, epochs: int | None) -> ModelInfo:
    return ModelInfo(
        candidate=candidate.name,
        description=candidate.description,
        input="answers: float32, shape [n, 10], the ten raw wire codes in the order of 'features'",
        output="probability of Depression: float32, shape [n, 1]",
        class_imbalance="plain log loss with the output started at the training base rate "
        "(each group's, where the model has an intercept per group), so probabilities stay "
        "calibrated; recall is bought with each group's threshold, not with class weights",
        training=Training(
            optimizer="Adam",
            learning_rate=candidate.learning_rate,
            epochs=epochs or candidate.epochs,
            batch_size=candidate.batch_size,
            l2=candidate.l2,
        ),
    )


def data_facts(data: Dataset, split: Split) -> DataFacts:
    def count(rows: np.ndarray) -> Count:
        return Count(rows=int(rows.size), positives=int(data.labels[rows].sum()))

    return DataFacts(
        sources=list(data.sources),
        rows=len(data),
        positives=int(data.labels.sum()),
        by_group={
            name: count(np.flatnonzero(data.groups == code)) for code, name in GROUPS.items()
        },
        seed=SEED,
        splits={"development": count(split.development), "test": count(split.test)},
    )


def limitations(data: Dataset) -> list[str]:
    """What the model cannot do, with the facts of the data it was trained on."""
    rates = {name: float(data.labels[data.groups == code].mean()) for code, name in GROUPS.items()}
    return [
        "Screening aid, not a diagnosis: a result of 'Depression' means the answers resemble those "
        "of survey respondents who reported depression, nothing more.",
        f"Trained on {len(data):,} rows of one public Kaggle survey "
        f"({', '.join(source.name for source in data.sources)}); the respondents are not a "
        "sample of the app's users, of Indonesia, or of any clinical population.",
        f"Students and working professionals have very different base rates in the data "
        f"({rates[GROUPS[STUDENT]]:.0%} and {rates['professionals']:.0%}): each group has its own "
        "threshold, and the figures are given for each group.",
        "Self-reported answers only; the model cannot see anything the questionnaire does not ask.",
        f"Each group's threshold favours recall (at least {evaluate.TARGET_RECALL:.0%} of that "
        "group's positives found): it accepts false alarms so as to miss few people at risk.",
        "Anyone who reports suicidal thoughts must be shown where to get help, whatever the score.",
    ]


def summary(card: ModelCard, seconds: float) -> str:
    """The few lines a person reads at the end of a run."""
    lines = [
        "",
        f"model {card.version} ({card.model.candidate}), {seconds:.0f} s",
        "",
        f"{'candidate (5-fold CV)':24s}{'log loss':>18s}{'ROC AUC':>18s}{'ECE':>18s}",
    ]
    for result in card.selection.candidates:
        lines.append(
            f"{result.name:24s}"
            + "".join(
                f"{f'{s.mean:.4f} ± {s.std:.4f}':>18s}"
                for s in (result.log_loss, result.roc_auc, result.ece)
            )
        )
    lines += [
        "",
        f"{'':20s}{'threshold':>10s}{'recall':>8s}{'spec.':>8s}{'PPV':>8s}"
        f"{'NPV':>8s}{'flagged':>9s}{'ECE':>8s}   (CV: out of fold)",
    ]
    for name, group in card.decision.groups.items():
        for label, figures in (
            ("CV", card.cross_validation.out_of_fold.by_group[name]),
            ("test", card.test.by_group[name]),
        ):
            d = figures.decisions
            lines.append(
                f"{name + ' ' + label:20s}{group.threshold:10.4f}{d.recall:8.3f}"
                f"{d.specificity:8.3f}{d.precision:8.3f}{d.npv:8.3f}{d.flagged:9.3f}"
                f"{figures.scores.ece:8.3f}"
            )
    lines.append(
        f"parity Lite vs Keras: max |diff| {card.parity.max_abs_diff:.2e} "
        f"over {card.parity.rows} rows"
    )
    return "\n".join(lines)

"""The training pipeline: load, split, cross-validate the candidates, fit, pick the threshold,
test once, export, and write the card and the report.

Every random choice hangs off SEED, fixed in the code before any result was seen; no seed or
split is searched. The same data and seed give the same metrics and the same model version.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.model_selection import StratifiedKFold, train_test_split

from soulsync.inference.card import CARD_FILE, KERAS_FILE, REPORT_FILE, TFLITE_FILE
from soulsync.questionnaire import GROUPS, QUESTIONS
from soulsync.training import evaluate
from soulsync.training.data import Dataset, load_dataset
from soulsync.training.export import PARITY_TOLERANCE, model_version, parity, save_artifacts
from soulsync.training.model import CANDIDATES, INPUT_NAME, Candidate, build, encoding_of
from soulsync.training.report import write_report

SEED = 20241101
TEST_SHARE = 0.20  # of all rows, touched once for the final report
VALIDATION_SHARE = 0.25  # of the rest, for the threshold
FOLDS = 5
#: Mean CV AUCs closer than this are a tie, and the simpler candidate ships.
AUC_TIE = 0.001

INTENDED_USE = (
    "Screening aid for the SoulSync app: after the daily ten-question self-report, it estimates "
    "the risk that the person would report depression, so that the app can suggest talking to "
    "a professional. It is not a diagnosis and must never be presented as one."
)
LIMITATIONS = [
    "Screening aid, not a diagnosis: a result of 'Depression' means the answers resemble those "
    "of survey respondents who reported depression, nothing more.",
    "Trained on 2,556 rows of one public Kaggle survey (ikynahidwin); the respondents are not a "
    "sample of the app's users, of Indonesia, or of any clinical population.",
    "Students and working professionals have very different base rates in the data (about 50 % "
    "and 10 %); the per-group figures show how the model behaves on each.",
    "Self-reported answers only; the model cannot see anything the questionnaire does not ask.",
    "The threshold favours recall: it accepts false alarms so as to miss few people at risk.",
    "Anyone who reports suicidal thoughts must be shown where to get help, whatever the score.",
]

Progress = Callable[[str], None]


def _fit(
    candidate: Candidate, answers: np.ndarray, labels: np.ndarray, seed: int, epochs: int | None
) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = build(candidate, positive_rate=float(labels.mean()))
    model.fit(
        answers.astype(np.float32),
        labels.astype(np.float32),
        epochs=epochs or candidate.epochs,
        batch_size=candidate.batch_size,
        shuffle=True,
        verbose=0,
    )
    return model


def _predict(model: keras.Model, answers: np.ndarray) -> np.ndarray:
    return np.asarray(model(answers.astype(np.float32), training=False)).reshape(-1)


def _by_group(
    labels: np.ndarray, probabilities: np.ndarray, groups: np.ndarray, threshold: float
) -> dict[str, Any]:
    return {
        GROUPS[g]: evaluate.evaluate(labels[groups == g], probabilities[groups == g], threshold)
        for g in sorted(GROUPS)
    }


def _split(data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test row indices, stratified on label and group together."""
    strata = data.labels * 2 + data.groups
    rows = np.arange(len(data))
    development, test = train_test_split(
        rows, test_size=TEST_SHARE, stratify=strata, random_state=SEED
    )
    train, validation = train_test_split(
        development, test_size=VALIDATION_SHARE, stratify=strata[development], random_state=SEED
    )
    return np.sort(train), np.sort(validation), np.sort(test)


def run(
    data_dir: Path, out_dir: Path, *, epochs: int | None = None, progress: Progress = print
) -> dict[str, Any]:
    """Train, evaluate and export; returns the model card that it also writes to `out_dir`."""
    started = time.perf_counter()
    tf.config.experimental.enable_op_determinism()
    data = load_dataset(data_dir)
    progress(f"loaded {len(data)} rows ({int(data.labels.sum())} positive) from {data_dir}")
    train, validation, test = _split(data)
    development = np.concatenate([train, validation])
    strata = data.labels * 2 + data.groups
    x, y, groups = data.answers, data.labels, data.groups

    # 1. Compare the candidates under the same folds of the development rows.
    folds = list(
        StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(
            development, strata[development]
        )
    )
    cross_validation: dict[str, Any] = {}
    out_of_fold: dict[str, np.ndarray] = {}
    for candidate in CANDIDATES:
        fold_figures = []
        predictions = np.zeros(len(development))
        for k, (fit_rows, held_rows) in enumerate(folds):
            tick = time.perf_counter()
            model = _fit(
                candidate, x[development[fit_rows]], y[development[fit_rows]], SEED + k, epochs
            )
            predictions[held_rows] = _predict(model, x[development[held_rows]])
            figures = evaluate.threshold_free(y[development[held_rows]], predictions[held_rows])
            fold_figures.append(figures)
            progress(
                f"  {candidate.name:8s} fold {k + 1}/{FOLDS}: AUC {figures['roc_auc']:.3f}  "
                f"Brier {figures['brier']:.3f}  ECE {figures['ece']:.3f}  "
                f"({time.perf_counter() - tick:.1f} s)"
            )
        out_of_fold[candidate.name] = predictions
        cross_validation[candidate.name] = {
            "description": candidate.description,
            "summary": evaluate.summarize(fold_figures),
            "folds": fold_figures,
        }

    def mean_auc(c: Candidate) -> float:
        return cross_validation[c.name]["summary"]["roc_auc"]["mean"]

    # CANDIDATES runs from simplest to most complex: a later one must beat by more than a tie.
    chosen = CANDIDATES[0]
    for candidate in CANDIDATES[1:]:
        if mean_auc(candidate) > mean_auc(chosen) + AUC_TIE:
            chosen = candidate
    progress(
        f"shipping '{chosen.name}' (CV AUC {mean_auc(chosen):.4f}; "
        + ", ".join(f"{c.name} {mean_auc(c):.4f}" for c in CANDIDATES)
        + ")"
    )

    # 2. Fit the shipped model on the training split; choose the threshold on validation.
    model = _fit(chosen, x[train], y[train], SEED, epochs)
    threshold = evaluate.choose_threshold(y[validation], _predict(model, x[validation]))
    validation_figures = evaluate.evaluate(y[validation], _predict(model, x[validation]), threshold)
    progress(f"threshold {threshold:.4f}: {evaluate.THRESHOLD_RULE}")

    # The decision figures of the shipped recipe, fold by fold, at the shipped threshold.
    chosen_oof = out_of_fold[chosen.name]
    decision_folds = []
    for _, held_rows in folds:
        rows = development[held_rows]
        decision_folds.append(
            {
                k: v
                for k, v in evaluate.at_threshold(y[rows], chosen_oof[held_rows], threshold).items()
                if isinstance(v, float)
            }
        )
    shipped_cv = {
        **cross_validation[chosen.name]["summary"],
        **evaluate.summarize(decision_folds),
        "by_group": _by_group(y[development], chosen_oof, groups[development], threshold),
    }

    # 3. The test split, once.
    test_probabilities = _predict(model, x[test])
    test_figures = evaluate.evaluate(y[test], test_probabilities, threshold)
    test_figures["by_group"] = _by_group(y[test], test_probabilities, groups[test], threshold)

    # 4. Export, check parity on every row, derive the version.
    save_artifacts(model, out_dir, KERAS_FILE, TFLITE_FILE)
    parity_figures = parity(out_dir / KERAS_FILE, out_dir / TFLITE_FILE, x)
    if parity_figures["max_abs_diff"] > PARITY_TOLERANCE:
        raise RuntimeError(
            f"Lite and Keras models disagree by {parity_figures['max_abs_diff']:g}"
            f" (tolerance {PARITY_TOLERANCE:g})"
        )
    version = model_version(model, [source.sha256 for source in data.sources])

    curves = {"all": (y[test], test_probabilities)}
    for g, name in GROUPS.items():
        curves[name] = (y[test][groups[test] == g], test_probabilities[groups[test] == g])
    write_report(
        out_dir / REPORT_FILE,
        curves,
        threshold,
        f"SoulSync depression screening model {version} ({chosen.name})",
    )

    card = {
        "name": "soulsync-depression-screening",
        "version": version,
        "model": {
            "candidate": chosen.name,
            "description": chosen.description,
            "input": {
                "name": INPUT_NAME,
                "shape": [None, len(QUESTIONS)],
                "dtype": "float32",
                "content": "the ten raw wire codes, in the order of 'features'",
            },
            "output": {"shape": [None, 1], "content": "probability of Depression"},
            "class_imbalance": "plain log loss with the output bias started at the training "
            "base rate, so probabilities stay calibrated; recall is bought "
            "with the threshold, not with class weights",
            "training": {
                "optimizer": "Adam",
                "learning_rate": chosen.learning_rate,
                "epochs": epochs or chosen.epochs,
                "batch_size": chosen.batch_size,
                "l2": chosen.l2,
            },
        },
        "features": [
            {
                "key": q.key,
                "codes": list(q.codes),
                "encoding": encoding_of(q),
                "reference": int(np.bincount(x[train][:, i]).argmax()),
            }
            for i, q in enumerate(QUESTIONS)
        ],
        "reference_rule": "the most common answer in the training split; a factor's effect is "
        "the change in probability when that answer is replaced by it",
        "threshold": {
            "value": threshold,
            "rule": evaluate.THRESHOLD_RULE,
            "target_recall": evaluate.TARGET_RECALL,
            "validation": validation_figures,
        },
        "selection": {
            "rule": f"higher mean cross-validated ROC AUC; a tie (within {AUC_TIE}) "
            "ships the simpler",
            "chosen": chosen.name,
            "candidates": cross_validation,
        },
        "cross_validation": {"folds": FOLDS, "rows": len(development), **shipped_cv},
        "test": test_figures,
        "calibration_bins": evaluate.CALIBRATION_BINS,
        "parity": {**parity_figures, "tolerance": PARITY_TOLERANCE},
        "data": {
            "sources": [source.__dict__ for source in data.sources],
            "rows": len(data),
            "positives": int(y.sum()),
            "seed": SEED,
            "splits": {
                name: {"rows": len(rows), "positives": int(y[rows].sum())}
                for name, rows in (("train", train), ("validation", validation), ("test", test))
            },
        },
        "libraries": {
            name: metadata.version(name)
            for name in ("tensorflow", "keras", "numpy", "scikit-learn", "ai-edge-litert")
        }
        | {"python": platform.python_version()},
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
        "artifacts": {"keras": KERAS_FILE, "tflite": TFLITE_FILE, "report": REPORT_FILE},
    }
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    progress(summary_table(card, time.perf_counter() - started))
    return card


def summary_table(card: dict[str, Any], seconds: float) -> str:
    """The few lines a person reads at the end of a run."""

    def spread(figures: dict[str, Any], name: str) -> str:
        return f"{figures[name]['mean']:.3f} ± {figures[name]['std']:.3f}"

    lines = [
        "",
        f"model {card['version']} ({card['model']['candidate']}), "
        f"threshold {card['threshold']['value']:.4f}, {seconds:.0f} s",
        "",
        f"{'candidate (5-fold CV)':24s}{'ROC AUC':>16s}{'Brier':>16s}{'ECE':>16s}",
    ]
    for name, result in card["selection"]["candidates"].items():
        s = result["summary"]
        lines.append(
            f"{name:24s}{spread(s, 'roc_auc'):>16s}{spread(s, 'brier'):>16s}{spread(s, 'ece'):>16s}"
        )
    cv, test = card["cross_validation"], card["test"]
    lines += ["", f"{'shipped model':24s}{'CV':>16s}{'test':>10s}"]
    for name in ("roc_auc", "brier", "ece", "recall", "precision", "f1", "accuracy"):
        lines.append(f"{name:24s}{spread(cv, name):>16s}{test[name]:>10.3f}")
    for group, figures in test["by_group"].items():
        lines.append(
            f"test {group:19s}AUC {figures.get('roc_auc', float('nan')):.3f}  "
            f"recall {figures['recall']:.3f}  precision {figures['precision']:.3f}  "
            f"(n={figures['rows']}, {figures['positives']} positive)"
        )
    lines.append(
        f"parity Lite vs Keras: max |diff| {card['parity']['max_abs_diff']:.2e} "
        f"over {card['parity']['rows']} rows"
    )
    return "\n".join(lines)

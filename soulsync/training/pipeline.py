"""The training pipeline, stage by stage: load, split, cross-validate the candidates (and fit
each on the development part), stress-test them, select one, decide each group's rule, test
once, export, and write the card and the report.

The test split is touched once, at the end. The same data, code and libraries give the same
version, on any machine (training/recipe.py holds every setting; export.py derives the version).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from soulsync.analysis import evaluation
from soulsync.analysis.drift_reference import build_reference
from soulsync.analysis.rule_choice import decide
from soulsync.inference.card import CARD_FORMAT, Artifacts, Feature, ModelCard
from soulsync.inference.model_folder import (
    CARD_FILE,
    KERAS_FILE,
    REPORT_FILE,
    TFLITE_FILE,
    staged_folder,
    write_card,
)
from soulsync.inference.selection import CrossValidation, Selection
from soulsync.questionnaire import QUESTIONS
from soulsync.training.data import load_dataset
from soulsync.training.describe import (
    INTENDED_USE,
    WHAT_WOULD_CHANGE,
    candidate_result,
    data_facts,
    limitations,
    model_info,
    selection_reason,
    summary,
)
from soulsync.training.export import (
    PARITY_TOLERANCE,
    model_version,
    parity,
    provenance,
    save_artifacts,
    weights_sha256,
)
from soulsync.training.model import encoding_of
from soulsync.training.recipe import FOLDS, SEED, SELECTION_RULE, configuration
from soulsync.training.report import write_report
from soulsync.training.stages import (
    Progress,
    cross_validate,
    predict,
    select,
    split_rows,
    stress_family,
    stress_runs,
)


def run(
    data_dir: Path, out_dir: Path, *, epochs: int | None = None, progress: Progress = print
) -> ModelCard:
    """Train, evaluate and export; returns the model card that it also writes to `out_dir`,
    with the model files and the report, replacing what was there only once all are written."""
    started = time.perf_counter()

    def step(message: str) -> None:
        progress(f"[{time.perf_counter() - started:5.0f} s] {message}")

    tf.config.experimental.enable_op_determinism()
    data = load_dataset(data_dir)
    step(f"loaded {len(data)} rows ({int(data.labels.sum())} positive) from {data_dir}")
    split = split_rows(data)
    runs = cross_validate(data, split, epochs, step)
    x, y, groups = data.answers, data.labels, data.groups
    dev, test_rows = split.development, split.test
    shifts = stress_family(runs, y[dev], groups[dev])
    stresses = stress_runs(runs, y[dev], groups[dev], shifts)
    chosen_index = select(stresses)
    chosen = runs[chosen_index]
    step(
        f"selected '{chosen.candidate.name}' (stress criterion "
        f"{stresses[chosen_index].stress.criterion.value:.4f}; the rule: training/recipe.py)"
    )

    model = chosen.model  # fitted on the development rows by cross_validate
    decision = decide(
        y[dev], chosen.out_of_fold, groups[dev], lambda rows: predict(model, rows), SEED
    )
    rules = decision.rules()
    step(
        "thresholds "
        + ", ".join(f"{name} {group.threshold:.4f}" for name, group in decision.groups.items())
    )

    test_probabilities = chosen.test
    test = evaluation.grouped_evaluation(y[test_rows], test_probabilities, groups[test_rows], rules)
    step("evaluated once on the test split")

    with staged_folder(out_dir, replace=True) as folder:
        save_artifacts(model, folder, KERAS_FILE, TFLITE_FILE)
        parity_figures = parity(folder / KERAS_FILE, folder / TFLITE_FILE, x)
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
                candidates=[
                    candidate_result(run_, stress.stress, y, groups, split)
                    for run_, stress in zip(runs, stresses, strict=True)
                ],
                reason=selection_reason(runs, stresses, chosen_index),
                stress_family=shifts,
                what_would_change=WHAT_WOULD_CHANGE,
            ),
            cross_validation=CrossValidation(
                folds=FOLDS,
                rows=len(dev),
                out_of_fold=evaluation.grouped_evaluation(
                    y[dev], chosen.out_of_fold, groups[dev], rules
                ),
                spread=evaluation.fold_spreads(chosen.folds),
            ),
            test=test,
            calibration_bins=evaluation.CALIBRATION_BINS,
            parity=parity_figures,
            data=data_facts(data, split),
            provenance=source,
            drift_reference=build_reference(x[dev], groups[dev], predict(model, x[dev]), rules),
            intended_use=INTENDED_USE,
            limitations=limitations(data, runs[chosen_index], y[dev], groups[dev]),
            artifacts=Artifacts(keras=KERAS_FILE, tflite=TFLITE_FILE, report=REPORT_FILE),
        )
        write_card(card, folder)
        write_report(
            folder / REPORT_FILE, card, y[test_rows], test_probabilities, groups[test_rows]
        )
    step(f"wrote {out_dir / CARD_FILE} and {REPORT_FILE}")
    progress(summary(card, time.perf_counter() - started))
    return card

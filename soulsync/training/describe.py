"""What the card says in words and tables: each candidate's figures, the model's settings, the
data's facts, the intended use and the limitations, and the summary a person reads at the end
of a run."""

from __future__ import annotations

import numpy as np

from soulsync import evaluation
from soulsync.inference.card import (
    CandidateResult,
    Count,
    DataFacts,
    ModelCard,
    ModelInfo,
    Training,
)
from soulsync.questionnaire import GROUPS, STUDENT
from soulsync.training.data import Dataset
from soulsync.training.model import Candidate
from soulsync.training.recipe import SEED
from soulsync.training.stages import CandidateRun, Split

INTENDED_USE = (
    "Screening aid for the SoulSync app: after the daily ten-question self-report, it estimates "
    "the risk that the person would report depression, so that the app can suggest talking to "
    "a professional. It is not a diagnosis and must never be presented as one."
)


def candidate_result(run_: CandidateRun, labels: np.ndarray, groups: np.ndarray) -> CandidateResult:
    """One candidate's cross-validated figures, and each group's at its own thresholds."""
    by_group = {}
    for code, name in GROUPS.items():
        rows = groups == code
        y, p = labels[rows], run_.out_of_fold[rows]
        threshold = evaluation.choose_threshold(y, p)
        by_group[name] = evaluation.evaluation(y, p, p >= threshold)
    spreads = evaluation.fold_spreads(run_.folds)
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
        f"Each group's threshold favours recall (at least {evaluation.TARGET_RECALL:.0%} of that "
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

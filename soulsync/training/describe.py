"""What the card says in words and tables: each candidate's figures, the model's settings, the
data's facts, the intended use and the limitations, and the summary a person reads at the end
of a run."""

from __future__ import annotations

import numpy as np

from soulsync.analysis import evaluation, logistic, rule_choice
from soulsync.inference.card import DataFacts, ModelCard, ModelInfo, RowCount, Training
from soulsync.inference.selection import CandidateResult, Stress
from soulsync.questionnaire import GROUPS, STUDENT
from soulsync.training.data import Dataset
from soulsync.training.model import Candidate
from soulsync.training.recipe import LOG_LOSS_TIE, SEED, SELECTION_CONFIDENCE
from soulsync.training.stages import CandidateRun, Split
from soulsync.training.stress import StressRun

INTENDED_USE = (
    "Screening aid for the SoulSync app: after the daily ten-question self-report, it estimates "
    "the risk that the person would report depression, so that the app can suggest talking to "
    "a professional. It is not a diagnosis and must never be presented as one."
)


def _figures(labels: np.ndarray, probabilities: np.ndarray, groups: np.ndarray) -> dict:
    """Pooled (`all`) and each group's probability figures, with bootstrap intervals."""
    found = {"all": evaluation.probability_figures(labels, probabilities, SEED)}
    for code, name in GROUPS.items():
        rows = groups == code
        found[name] = evaluation.probability_figures(labels[rows], probabilities[rows], SEED)
    return found


def candidate_result(
    run_: CandidateRun, stress: Stress, labels: np.ndarray, groups: np.ndarray, split: Split
) -> CandidateResult:
    """One candidate's figures: cross-validated, per group at its own thresholds, with
    intervals out of fold and on the test split, and under the stress family."""
    dev, test = split.development, split.test
    by_group = {}
    for code, name in GROUPS.items():
        rows = groups[dev] == code
        y, p = labels[dev][rows], run_.out_of_fold[rows]
        threshold = rule_choice.choose_threshold(y, p)
        by_group[name] = evaluation.evaluate(y, p, p >= threshold)
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
        out_of_fold=_figures(labels[dev], run_.out_of_fold, groups[dev]),
        test=_figures(labels[test], run_.test, groups[test]),
        stress=stress,
    )


def selection_reason(runs: list[CandidateRun], stresses: list[StressRun], chosen: int) -> str:
    """Why the chosen candidate ships, against every other, in the stress criterion's terms."""
    mine = stresses[chosen]
    value = mine.stress.criterion
    parts = [
        f"'{runs[chosen].candidate.name}' ships: its stress criterion is {value.value:.4f} "
        f"(95 % interval {value.low:.4f} to {value.high:.4f})."
    ]
    for run_, other in zip(runs, stresses, strict=True):
        if other is mine:
            continue
        gap = other.stress.criterion.value - value.value
        share = float(np.mean(other.resampled < mine.resampled))
        group, worst = max(
            other.stress.groups.items(), key=lambda item: item[1].worst_calibration_loss
        )
        where = (
            f"its worst calibration loss, {worst.worst_calibration_loss:.4f}, is for {group} at "
            f"steepness {worst.worst_at.steepness:.2f} and odds ratio {worst.worst_at.odds_ratio:g}"
        )
        if gap >= 0:
            verdict = f"{gap:.4f} higher ({where})"
        else:
            verdict = (
                f"{-gap:.4f} lower, in {share:.0%} of the paired resamples: not better by more "
                f"than the tie ({LOG_LOSS_TIE}) in at least {SELECTION_CONFIDENCE:.0%} of them"
            )
        parts.append(f"'{run_.candidate.name}': {verdict}.")
    return " ".join(parts)


WHAT_WOULD_CHANGE = [
    "Outcomes from the app's own users: `soulsync recalibrate` fits each group's probabilities "
    "to them, whichever candidate ships.",
    "Evidence that the app's students are as easy to separate as the survey's (their "
    "outcome as steep in the answers): the students' own slope would then cost nothing where "
    "it matters, and a survey with more students would narrow the intervals that keep it out.",
    "A wider or narrower stress family: it spans the two groups of this one survey; a third "
    "population with known outcomes would show whether populations move further than that.",
]


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
    def count(rows: np.ndarray) -> RowCount:
        return RowCount(rows=int(rows.size), positives=int(data.labels[rows].sum()))

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


def _confidence(slope: float) -> str:
    """What a calibration slope says, in words."""
    if slope > 1.2:
        return "under-confident: nearer the base rate than the outcomes warrant"
    if slope < 0.8:
        return "over-confident: further from the base rate than the outcomes warrant"
    return "close to calibrated"


def trust(chosen: CandidateRun, labels: np.ndarray, groups: np.ndarray) -> str:
    """How far the probabilities can be trusted: each group's out-of-fold calibration."""
    parts = []
    for code, name in GROUPS.items():
        rows = groups == code
        line = logistic.calibration_line(labels[rows], chosen.out_of_fold[rows])
        ece = evaluation.expected_calibration_error(labels[rows], chosen.out_of_fold[rows])
        slope = line[1] if line else float("nan")
        parts.append(
            f"the survey's {name}, out of fold: calibration slope {slope:.2f}, ECE {ece:.3f} "
            f"({_confidence(slope)})"
        )
    return (
        "Probabilities are estimates for the survey's population and hold for another only as "
        "far as it resembles it: "
        + "; ".join(parts)
        + ". The candidate was chosen for the probabilities that degrade least when a "
        "population is harder or easier to separate than the survey's (selection.reason), not "
        "for the best fit to the survey; `soulsync recalibrate` fits each group's probabilities "
        "to the app's own users from their outcomes."
    )


def limitations(
    data: Dataset, chosen: CandidateRun, labels: np.ndarray, groups: np.ndarray
) -> list[str]:
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
        trust(chosen, labels, groups),
        "Self-reported answers only; the model cannot see anything the questionnaire does not ask.",
        f"Each group's threshold favours recall (at least {rule_choice.TARGET_RECALL:.0%} of that "
        "group's positives found): it accepts false alarms so as to miss few people at risk.",
        "Anyone who reports suicidal thoughts must be shown where to get help, whatever the score.",
    ]


def summary(card: ModelCard, seconds: float) -> str:
    """The few lines a person reads at the end of a run."""
    lines = [
        "",
        f"model {card.version} ({card.model.candidate}), {seconds:.0f} s",
        "",
        f"{'candidate':14s}{'CV log loss':>18s}{'ROC AUC':>18s}{'stress':>9s}"
        f"{'stud. slope':>13s}{'stud. ECE':>11s}{'prof. slope':>13s}{'prof. ECE':>11s}",
    ]
    for result in card.selection.candidates:
        figures = result.out_of_fold or {}
        cells = ""
        for group in ("students", "professionals"):
            found = figures.get(group)
            slope = found.calibration_slope.value if found and found.calibration_slope else None
            cells += f"{slope:13.2f}" if slope is not None else f"{'-':>13s}"
            cells += f"{found.ece.value:11.3f}" if found else f"{'-':>11s}"
        stress = f"{result.stress.criterion.value:9.4f}" if result.stress else f"{'-':>9s}"
        lines.append(
            f"{result.name:14s}"
            + "".join(
                f"{f'{s.mean:.4f} ± {s.std:.4f}':>18s}" for s in (result.log_loss, result.roc_auc)
            )
            + stress
            + cells
        )
    lines += [
        "",
        f"{'':20s}{'threshold':>10s}{'recall':>8s}{'spec.':>8s}{'PPV':>8s}"
        f"{'NPV':>8s}{'flagged':>9s}{'ECE':>8s}{'slope':>8s}   (CV: out of fold)",
    ]
    for name, group in card.decision.groups.items():
        for label, figures in (
            ("CV", card.cross_validation.out_of_fold.by_group[name]),
            ("test", card.test.by_group[name]),
        ):
            d = figures.decisions
            slope = figures.scores.calibration_slope
            lines.append(
                f"{name + ' ' + label:20s}{group.threshold:10.4f}{d.recall:8.3f}"
                f"{d.specificity:8.3f}{d.precision:8.3f}{d.npv:8.3f}{d.flagged:9.3f}"
                f"{figures.scores.ece:8.3f}" + (f"{slope:8.2f}" if slope is not None else "")
            )
    lines.append(
        f"parity Lite vs Keras: max |diff| {card.parity.max_abs_diff:.2e} "
        f"over {card.parity.rows} rows"
    )
    return "\n".join(lines)

"""A shifted population built from a survey: the same kinds of answers, but an outcome that
depends on them more or less steeply than in the survey, and other base rates. It stands in for
the app's users, whose outcomes this project does not have, to test `soulsync recalibrate`.

How: for each group, a logistic model of the survey's outcome on its answers (every question
one-hot, scikit-learn, fitted on the survey's rows of that group) is "the survey's dependence".
Answers are drawn from the group's survey rows with replacement; each outcome is drawn from that
model's logit, centred, times the group's STEEPNESS, moved to the group's BASE_RATE.

    python -m tests.support.shifted export --data DATA --rows 20000 --out shifted.csv
    python -m tests.support.shifted goals --data DATA [--draws 30] [--labelled 300]
        [--students STEEPNESS BASE_RATE] [--professionals STEEPNESS BASE_RATE]

`goals` measures what `soulsync recalibrate` must reach (GOALS below): it draws `--labelled`
rows per group from the shifted population, recalibrates the shipped model on them (the command
itself), serves the new folder through the service (the Flask app, POST /predict/batch) and
scores a separate draw of 5,000 rows per group, before and after, `--draws` times.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from soulsync.analysis.evaluation import decisions, expected_calibration_error
from soulsync.analysis.logistic import calibration_line, logistic_fit
from soulsync.app import create_app
from soulsync.inference.model_folder import DEFAULT_MODEL_PATH, TFLITE_FILE
from soulsync.inference.probability_map import logit, sigmoid
from soulsync.questionnaire import GROUPS, KEYS, QUESTIONS
from soulsync.training.data import load_dataset

#: The shift: how steeply each group's outcome depends on the answers (1: as in the survey) and
#: its base rate. Students harder to separate than the survey's, professionals easier; both
#: groups with more depression than the survey's. Any shift can be given on the command line.
STEEPNESS = {"students": 0.75, "professionals": 1.4}
BASE_RATE = {"students": 0.6, "professionals": 0.18}
EVALUATION_ROWS = 5000
#: What a recalibrated model must reach, per group, on rows not used for the fit.
GOALS = {
    "ece": lambda value: value <= 0.04,
    "slope": lambda value: 0.75 <= value <= 1.3,
    "recall": lambda value: value >= 0.85,
    "specificity": lambda value: value >= 0.70,
}
BATCH = 500  # questionnaires per POST /predict/batch


def one_hot(answers: np.ndarray) -> np.ndarray:
    """Every question's answer as one-hot columns (the truth's own encoding, not the model's)."""
    return np.hstack(
        [
            (answers[:, [i]] == np.array(question.codes)[None, :]).astype(float)
            for i, question in enumerate(QUESTIONS)
        ]
    )


class ShiftedPopulation:
    """Draws rows of the shifted population from a survey's answers and outcomes."""

    def __init__(
        self,
        answers: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray,
        steepness: dict[str, float] | None = None,
        base_rate: dict[str, float] | None = None,
    ) -> None:
        self.steepness = steepness or STEEPNESS
        self.base_rate = base_rate or BASE_RATE
        self.parts = {}
        for code, name in GROUPS.items():
            rows = groups == code
            truth = LogisticRegression(max_iter=2000).fit(one_hot(answers[rows]), labels[rows])
            self.parts[name] = (answers[rows], truth)

    def draw(self, rows_per_group: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(answers, outcomes): `rows_per_group` rows of each group."""
        rng = np.random.default_rng(seed)
        answers, outcomes = [], []
        for name, (pool, truth) in self.parts.items():
            chosen = pool[rng.integers(0, len(pool), rows_per_group)]
            logits = truth.decision_function(one_hot(chosen))
            moved = self.steepness[name] * (logits - logits.mean())
            shift = _intercept_for(moved, self.base_rate[name])
            answers.append(chosen)
            outcomes.append((rng.random(rows_per_group) < sigmoid(shift + moved)).astype(int))
        return np.concatenate(answers), np.concatenate(outcomes)


def _intercept_for(logits: np.ndarray, rate: float) -> float:
    low, high = -30.0, 30.0
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if sigmoid(middle + logits).mean() < rate else (low, middle)
    return (low + high) / 2


def write_export(path: Path, answers: np.ndarray, outcomes: np.ndarray) -> Path:
    """An export as the app would write it: the ten wire keys and Depression (Yes/No)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*KEYS, "Depression"])
        for row, outcome in zip(answers.tolist(), outcomes.tolist(), strict=True):
            writer.writerow([*row, "Yes" if outcome else "No"])
    return path


def served(model_path: Path | None, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and results (Depression or not) of each row, as the service replies."""
    settings = {"TESTING": True, "LOG_LEVEL": "WARNING"}
    settings |= {"MODEL_PATH": str(model_path)} if model_path else {}
    client = create_app(settings).test_client()
    probabilities, flagged = [], []
    for start in range(0, len(answers), BATCH):
        rows = answers[start : start + BATCH].tolist()
        batch = [dict(zip(KEYS, row, strict=True)) for row in rows]
        reply = client.post("/predict/batch", json={"questionnaires": batch})
        assert reply.status_code == 200, reply.get_data(as_text=True)
        for result in reply.get_json()["results"]:
            probabilities.append(result["probability"])
            flagged.append(result["result"] == "Depression")
    return np.array(probabilities), np.array(flagged)


def figures(labels: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray) -> dict:
    line = calibration_line(labels, probabilities)
    found = decisions(labels, flagged)
    return {
        "ece": expected_calibration_error(labels, probabilities),
        "slope": line[1] if line else float("nan"),
        "recall": found.recall,
        "specificity": found.specificity,
    }


def goals(args: argparse.Namespace) -> int:
    data = load_dataset(args.data)
    steepness, base_rate = shift_of(args)
    population = ShiftedPopulation(data.answers, data.labels, data.groups, steepness, base_rate)
    answers, outcomes = population.draw(EVALUATION_ROWS, seed=1_000_000)
    groups = answers[:, KEYS.index("WorkOrStudent")]
    before = served(DEFAULT_MODEL_PATH, answers)
    rows = {name: [] for name in GROUPS.values()}
    with tempfile.TemporaryDirectory(prefix="soulsync-goals-") as scratch:
        for draw in range(args.draws):
            labelled = write_export(
                Path(scratch) / f"labelled-{draw}.csv", *population.draw(args.labelled, seed=draw)
            )
            out = Path(scratch) / f"model-{draw}"
            command = [sys.executable, "-m", "soulsync.cli", "recalibrate", str(labelled)]
            result = subprocess.run(
                [*command, "--out", str(out)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
                return 1
            after = served(out / TFLITE_FILE, answers)
            for code, name in GROUPS.items():
                held = groups == code
                rows[name].append(figures(outcomes[held], after[0][held], after[1][held]))
    print(
        f"shifted population: steepness {steepness}, base rate {base_rate}; {args.draws} draws "
        f"of {args.labelled} labelled rows per group; figures on {EVALUATION_ROWS} other rows "
        "per group, served by the app"
    )
    for code, name in GROUPS.items():
        held = groups == code
        shipped = figures(outcomes[held], before[0][held], before[1][held])
        print(
            f"{name}: ROC AUC {roc_auc_score(outcomes[held], before[0][held]):.3f}; "
            + "shipped model "
            + ", ".join(f"{k} {v:.3f}" for k, v in shipped.items())
        )
        intercept, slope = logistic_fit(logit(before[0][held]), outcomes[held])
        floor = expected_calibration_error(
            outcomes[held], sigmoid(intercept[0] + slope[0] * logit(before[0][held]))
        )
        print(f"  a two-parameter map fitted on these very rows would reach ECE {floor:.3f}")
        met = np.ones(len(rows[name]), dtype=bool)
        for key, goal in GOALS.items():
            values = np.array([found[key] for found in rows[name]])
            meets = np.array([goal(value) for value in values])
            met &= meets
            print(
                f"  recalibrated {key:12s} mean {values.mean():.3f}, sd {values.std(ddof=1):.3f}, "
                f"min {values.min():.3f}, max {values.max():.3f}; goal met in "
                f"{meets.sum()} of {len(values)} draws"
            )
        print(f"  every goal met in {met.sum()} of {len(met)} draws")
    return 0


def shift_of(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    """Each group's steepness and base rate, from the command line or the defaults."""
    given = {"students": args.students, "professionals": args.professionals}
    return (
        {name: shift[0] for name, shift in given.items()},
        {name: shift[1] for name, shift in given.items()},
    )


def export(args: argparse.Namespace) -> int:
    data = load_dataset(args.data)
    population = ShiftedPopulation(data.answers, data.labels, data.groups, *shift_of(args))
    write_export(args.out, *population.draw(args.rows, seed=args.seed))
    print(f"wrote {args.out}: {args.rows} rows per group")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.shifted", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("export", help="write an export of the shifted population")
    write.add_argument("--data", type=Path, required=True)
    write.add_argument("--rows", type=int, default=20000, help="rows per group")
    write.add_argument("--seed", type=int, default=0)
    write.add_argument("--out", type=Path, required=True)
    write.set_defaults(handler=export)
    measure = commands.add_parser("goals", help="measure the recalibration goals")
    measure.add_argument("--data", type=Path, required=True)
    measure.add_argument("--draws", type=int, default=30)
    measure.add_argument("--labelled", type=int, default=300, help="labelled rows per group")
    measure.set_defaults(handler=goals)
    for command in (write, measure):
        for name in GROUPS.values():
            command.add_argument(
                f"--{name}",
                type=float,
                nargs=2,
                metavar=("STEEPNESS", "BASE_RATE"),
                default=(STEEPNESS[name], BASE_RATE[name]),
                help=f"the shift of the {name} (default: %(default)s)",
            )
    args = parser.parse_args()
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

"""Small survey files in the Kaggle files' exact format, generated (no real row is copied), for
tests that must not need the real data.

`python -m tests.support.survey` rewrites the committed fixture, tests/fixtures/survey/.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from soulsync.question import Kind
from soulsync.questionnaire import PROFESSIONAL, QUESTIONS, STUDENT
from soulsync.training.data import PROFESSIONAL_FILE, STUDENT_FILE, TARGET_COLUMN

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "survey"


def header(group: int) -> list[str]:
    columns = ["Gender", "Age"]
    for question in QUESTIONS:
        column = question.professional_column if group == PROFESSIONAL else question.student_column
        if column is not None and column not in columns:
            columns.append(column)
    return [*columns, TARGET_COLUMN]


#: How each answer moves the log-odds of Depression in the generated rows: as in the survey,
#: suicidal thoughts, pressure and financial stress raise it, satisfaction lowers it.
WEIGHTS = {"SuicidalTh": 3.0, "Pressure": 0.9, "FinancialStress": 0.6, "Satisfaction": -0.5}


def random_rows(group: int, count: int, seed: int) -> list[dict[str, str]]:
    """Rows whose label depends on the answers (WEIGHTS), with a lower base rate for
    professionals, like the survey."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        row = {"Age": str(rng.integers(18, 60))}
        risk = -2.5 if group == PROFESSIONAL else 0.0
        for question in QUESTIONS:
            column = (
                question.professional_column if group == PROFESSIONAL else question.student_column
            )
            if column is None:
                continue
            option = question.options[rng.integers(len(question.options))]
            if question.kind is Kind.CATEGORICAL:
                row[column] = option.en
            elif group == STUDENT and question.key in ("Pressure", "Satisfaction"):
                row[column] = f"{option.code}.0"  # the student file writes these as 2.0
            else:
                row[column] = str(option.code)
            if question.key in WEIGHTS:
                middle = 0 if question.kind is Kind.CATEGORICAL else 3
                risk += WEIGHTS[question.key] * (option.code - middle)
        row[TARGET_COLUMN] = "Yes" if rng.random() < 1 / (1 + np.exp(-risk)) else "No"
        rows.append(row)
    return rows


def write_file(path: Path, group: int, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header(group), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_survey(folder: Path, rows_per_file: int = 160, seed: int = 7) -> Path:
    """Both files in `folder`, under their Kaggle names."""
    folder.mkdir(parents=True, exist_ok=True)
    write_file(
        folder / PROFESSIONAL_FILE, PROFESSIONAL, random_rows(PROFESSIONAL, rows_per_file, seed)
    )
    write_file(folder / STUDENT_FILE, STUDENT, random_rows(STUDENT, rows_per_file, seed + 1))
    return folder


if __name__ == "__main__":
    write_survey(FIXTURE)
    print(f"wrote {FIXTURE}")

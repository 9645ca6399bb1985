"""Load the two Kaggle survey files and map every row to the ten wire codes.

The loader is strict on purpose: a malformed file stops training with a message naming the file,
the row and the column, and no row is ever dropped silently. Age is not a question and is ignored.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soulsync.inference.card import SourceFile
from soulsync.question import Kind, Question
from soulsync.questionnaire import PROFESSIONAL, QUESTIONS, STUDENT

PROFESSIONAL_FILE = "depression_professional.csv"
STUDENT_FILE = "depression_student.csv"
TARGET_COLUMN = "Depression"
TARGET_VALUES = {"No": 0, "Yes": 1}


class DataError(ValueError):
    """A training file that cannot be used as it is."""


@dataclass(frozen=True)
class Dataset:
    """All rows of both files: answers as wire codes, the label and the respondent group."""

    answers: np.ndarray  # (n, 10) int64, columns in questionnaire.KEYS order
    labels: np.ndarray  # (n,) int64, 1 = Depression
    groups: np.ndarray  # (n,) int64, STUDENT or PROFESSIONAL
    sources: tuple[SourceFile, ...]

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(data_dir: Path) -> Dataset:
    """Read both survey files from `data_dir` (their Kaggle names) into one data set."""
    parts = [
        _load_file(data_dir / PROFESSIONAL_FILE, PROFESSIONAL),
        _load_file(data_dir / STUDENT_FILE, STUDENT),
    ]
    return Dataset(
        answers=np.concatenate([p[0] for p in parts]),
        labels=np.concatenate([p[1] for p in parts]),
        groups=np.concatenate([p[2] for p in parts]),
        sources=tuple(p[3] for p in parts),
    )


def _column(question: Question, group: int) -> str | None:
    return question.professional_column if group == PROFESSIONAL else question.student_column


def _parse_code(question: Question, raw: str) -> int | None:
    """The wire code for one cell, or None if the cell is not an allowed answer."""
    if question.kind is Kind.CATEGORICAL:
        for option in question.options:
            if raw == option.en:
                return option.code
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    if not number.is_integer() or int(number) not in question.codes:
        return None
    return int(number)


def _allowed(question: Question) -> str:
    if question.kind is Kind.CATEGORICAL:
        return ", ".join(repr(o.en) for o in question.options)
    return f"integers {question.min_code} to {question.max_code}"


def _load_file(path: Path, group: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, SourceFile]:
    try:
        content = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror})") from error
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text") from error

    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}: the file is empty (no header row)")
    header = [name.strip() for name in header]
    needed = [c for q in QUESTIONS if (c := _column(q, group)) is not None] + [TARGET_COLUMN]
    missing = [c for c in dict.fromkeys(needed) if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}")
    index = {name: header.index(name) for name in needed}

    answers: list[list[int]] = []
    labels: list[int] = []
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            raise DataError(f"{path}: row {line_number} is empty")
        if len(row) != len(header):
            raise DataError(
                f"{path}: row {line_number} has {len(row)} fields, the header has {len(header)}"
            )
        codes = []
        for question in QUESTIONS:
            column = _column(question, group)
            if column is None:  # WorkOrStudent: which file the row is in
                codes.append(group)
                continue
            raw = row[index[column]].strip()
            code = _parse_code(question, raw)
            if code is None:
                raise DataError(
                    f"{path}: row {line_number}, column {column!r}: "
                    f"value {raw!r} is not allowed (allowed: {_allowed(question)})"
                )
            codes.append(code)
        raw_label = row[index[TARGET_COLUMN]].strip()
        if raw_label not in TARGET_VALUES:
            raise DataError(
                f"{path}: row {line_number}, column {TARGET_COLUMN!r}: "
                f"value {raw_label!r} is not allowed (allowed: 'Yes', 'No')"
            )
        answers.append(codes)
        labels.append(TARGET_VALUES[raw_label])

    if not answers:
        raise DataError(f"{path}: the file has a header but no data rows")
    label_array = np.asarray(labels, dtype=np.int64)
    source = SourceFile(
        name=path.name,
        rows=len(labels),
        positives=int(label_array.sum()),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    return (
        np.asarray(answers, dtype=np.int64),
        label_array,
        np.full(len(labels), group, dtype=np.int64),
        source,
    )

"""The survey loader: every row mapped to wire codes, every malformed file refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soulsync.questionnaire import BY_KEY, KEYS, PROFESSIONAL, STUDENT
from soulsync.training.data import PROFESSIONAL_FILE, STUDENT_FILE, DataError, load_dataset
from tests.support.survey import header, random_rows, write_file, write_survey


def test_the_fixture_survey_loads_completely(survey_dir: Path) -> None:
    data = load_dataset(survey_dir)
    assert [(s.name, s.rows) for s in data.sources] == [
        (PROFESSIONAL_FILE, 160),
        (STUDENT_FILE, 160),
    ]
    assert len(data) == 320 and 0 < int(data.labels.sum()) < 320
    for column, key in enumerate(KEYS):
        assert set(np.unique(data.answers[:, column])) <= set(BY_KEY[key].codes), key


def test_the_fixture_is_what_the_generator_writes(survey_dir: Path, tmp_path: Path) -> None:
    for name, text in ((p.name, p.read_bytes()) for p in write_survey(tmp_path).iterdir()):
        rerun = f"run `python -m tests.support.survey` ({name})"
        assert (survey_dir / name).read_bytes() == text, rerun


def test_rows_map_to_wire_codes(tmp_path: Path) -> None:
    rows = random_rows(STUDENT, 3, seed=1)
    rows[0].update(
        {
            "Gender": "Male",
            "Academic Pressure": "4.0",
            "Sleep Duration": "Less than 5 hours",
            "Dietary Habits": "Unhealthy",
            "Study Hours": "12",
        }
    )
    write_file(tmp_path / STUDENT_FILE, STUDENT, rows)
    write_file(tmp_path / PROFESSIONAL_FILE, PROFESSIONAL, random_rows(PROFESSIONAL, 2, seed=2))
    data = load_dataset(tmp_path)
    student = dict(zip(KEYS, data.answers[2], strict=True))  # professionals come first
    assert student["Gender"] == 1
    assert student["WorkOrStudent"] == 0
    assert student["Pressure"] == 4
    assert student["SleepDr"] == 2
    assert student["DietHabits"] == 2
    assert student["WSHours"] == 12
    assert list(data.groups) == [PROFESSIONAL] * 2 + [STUDENT] * 3


def _survey_with(tmp_path: Path, change) -> Path:
    rows = random_rows(PROFESSIONAL, 5, seed=3)
    columns = header(PROFESSIONAL)
    change(rows, columns)
    path = tmp_path / PROFESSIONAL_FILE
    with path.open("w", encoding="utf-8") as handle:
        handle.write(",".join(columns) + "\n")
        for row in rows:
            handle.write(",".join(row.get(c, "") for c in columns) + "\n")
    write_file(tmp_path / STUDENT_FILE, STUDENT, random_rows(STUDENT, 5, seed=4))
    return tmp_path


def _set(row: int, column: str, value: str):
    def change(rows, columns):
        rows[row][column] = value

    return change


def _drop(column: str):
    def change(rows, columns):
        columns.remove(column)

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set(2, "Sleep Duration", "9 hours"),
            "row 4, column 'Sleep Duration': value '9 hours' is not allowed",
        ),
        (
            _set(0, "Work Pressure", "7"),
            "row 2, column 'Work Pressure': value '7' is not allowed (allowed: integers 1 to 5)",
        ),
        (_set(1, "Work Hours", "2.5"), "row 3, column 'Work Hours': value '2.5' is not allowed"),
        (_set(4, "Gender", ""), "row 6, column 'Gender': value '' is not allowed"),
        (_set(3, "Depression", "Maybe"), "row 5, column 'Depression': value 'Maybe'"),
        (_drop("Financial Stress"), "missing column(s) 'Financial Stress'"),
    ],
    ids=[
        "unknown-category",
        "out-of-range",
        "fraction",
        "empty-cell",
        "bad-label",
        "missing-column",
    ],
)
def test_malformed_file_is_refused_with_file_row_and_column(tmp_path, change, message) -> None:
    folder = _survey_with(tmp_path, change)
    with pytest.raises(DataError) as caught:
        load_dataset(folder)
    assert str(caught.value).startswith(str(folder / PROFESSIONAL_FILE) + ": ")
    assert message in str(caught.value)


def test_short_row_and_missing_file_are_refused(tmp_path: Path) -> None:
    folder = _survey_with(tmp_path, lambda rows, columns: None)
    path = folder / PROFESSIONAL_FILE
    path.write_text(path.read_text() + "Male,30,2\n")
    with pytest.raises(DataError, match=r"row 7 has 3 fields, the header has 11"):
        load_dataset(folder)
    path.unlink()
    with pytest.raises(DataError, match=rf"{PROFESSIONAL_FILE}: cannot read the file"):
        load_dataset(folder)

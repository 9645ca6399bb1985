"""`soulsync monitor` on generated populations, scored with a model trained on the fixture
survey: its own population reads ok, moved answers read shift where they moved, outcomes give
the model's own AUC, and a bad export is refused by file, row and column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from soulsync.cli import main
from soulsync.inference.backends import LiteBackend
from soulsync.inference.model_folder import TFLITE_FILE
from soulsync.questionnaire import BY_KEY, KEYS

pytest.importorskip("sklearn", reason="soulsync monitor needs the 'monitor' extra")
pytestmark = pytest.mark.slow  # needs a model trained on the fixture survey
ROWS = 4000  # enough for every group to pass the minimum count


@pytest.fixture(scope="module")
def population(trained, survey_dir: Path) -> dict[str, np.ndarray]:
    """ROWS questionnaires drawn (with replacement) from the rows the model was fit on."""
    from soulsync.training.data import load_dataset
    from soulsync.training.stages import split_rows

    data = load_dataset(survey_dir)
    rows = np.random.default_rng(5).choice(split_rows(data).development, ROWS)
    return {"answers": data.answers[rows], "outcomes": data.labels[rows]}


def write_csv(path: Path, answers: np.ndarray, outcomes: np.ndarray | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*KEYS, *(["Depression"] if outcomes is not None else [])])
        for i, row in enumerate(answers.tolist()):
            extra = [] if outcomes is None else ["Yes" if outcomes[i] else "No"]
            writer.writerow([*row, *extra])
    return path


def run(trained, tmp_path: Path, *exports: Path) -> tuple[int, dict]:
    out = tmp_path / "report"
    status = main(
        ["monitor", *map(str, exports), "--model", str(trained[0] / TFLITE_FILE), "--out", str(out)]
    )
    summary = json.loads((out / "summary.json").read_text()) if status in (0, 1) else {}
    return status, summary


def statuses(summary: dict) -> dict[tuple[str, str], str]:
    found = {("all", "group_mix"): summary["group_mix"]["status"]}
    for group, drift in summary["groups"].items():
        found |= {(group, figure["name"]): figure["status"] for figure in drift["figures"]}
    return found


def test_the_training_population_reads_ok_and_gives_the_models_auc(
    trained, population, tmp_path: Path
) -> None:
    from sklearn.metrics import roc_auc_score

    export = write_csv(tmp_path / "same.csv", population["answers"], population["outcomes"])
    status, summary = run(trained, tmp_path, export)
    assert status == 0
    assert set(statuses(summary).values()) == {"ok"}
    probabilities = LiteBackend(trained[0] / TFLITE_FILE).predict(population["answers"])
    groups = population["answers"][:, KEYS.index("WorkOrStudent")]
    for code, name in ((0, "students"), (1, "professionals")):
        rows = groups == code
        expected = roc_auc_score(population["outcomes"][rows], probabilities[rows])
        assert summary["groups"][name]["outcomes"]["roc_auc"] == pytest.approx(expected, abs=0.01)
    assert (tmp_path / "report" / "index.html").read_text().count("<img") == 6


def test_moved_answers_read_shift_exactly_where_they_moved(
    trained, population, tmp_path: Path
) -> None:
    # More suicidal thoughts and more pressure: answers that raise the risk in the fixture's
    # survey (tests/support/survey.py WEIGHTS), so that the scores move too.
    answers = population["answers"].copy()
    moved = np.random.default_rng(6).random((len(answers), 2)) < 0.8
    answers[moved[:, 0], KEYS.index("SuicidalTh")] = 1
    answers[moved[:, 1], KEYS.index("Pressure")] = 5
    status, summary = run(trained, tmp_path, write_csv(tmp_path / "moved.csv", answers))
    assert status == 1
    found = statuses(summary)
    shifted = {key for key, value in found.items() if value == "shift"}
    for group in ("students", "professionals"):
        assert {(group, "SuicidalTh"), (group, "Pressure"), (group, "score")} <= shifted
        unmoved = [key for key in KEYS if key not in ("SuicidalTh", "Pressure", "WorkOrStudent")]
        assert {found[(group, key)] for key in unmoved} == {"ok"}, group


def test_exports_from_several_instances_add_up_and_labels_are_read(
    trained, population, tmp_path: Path
) -> None:
    answers = population["answers"]
    half = len(answers) // 2
    first = write_csv(tmp_path / "a.csv", answers[:half])
    second = tmp_path / "b.jsonl"
    with second.open("w", encoding="utf-8") as handle:
        for row in answers[half:].tolist():
            record = {key: BY_KEY[key].option(code).en for key, code in zip(KEYS, row, strict=True)}
            handle.write(json.dumps(record) + "\n")
    status, summary = run(trained, tmp_path, first, second)
    assert status == 0 and summary["rows"] == len(answers)


def test_a_bad_export_names_the_file_row_and_column(trained, tmp_path: Path, capsys) -> None:
    export = tmp_path / "bad.csv"
    export.write_text(
        ",".join(KEYS) + "\n1,0,4,3,2,1,0,8,3,1\n1,0,9,3,2,1,0,8,3,1\n1,0,4,3,2,1,0,8,3\n",
        encoding="utf-8",
    )
    status, _ = run(trained, tmp_path, export)
    assert status == 2
    error = capsys.readouterr().err
    assert f"{export}: row 3, column 'Pressure': '9' is not allowed" in error
    assert f"{export}: row 4, column 'FamHistory': missing" in error

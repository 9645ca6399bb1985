"""`soulsync recalibrate` end to end, on a model trained on the fixture survey and a shifted
population built from that survey (tests/support/shifted.py): the app's team's workflow of
collecting outcomes, checking them with `soulsync monitor`, recalibrating, and serving the new
folder with the unchanged service; and every way it must refuse, writing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from soulsync.app import create_app
from soulsync.cli import main
from soulsync.inference.backends import KerasBackend, LiteBackend
from soulsync.inference.model_folder import CARD_FILE, KERAS_FILE, TFLITE_FILE, read_card
from soulsync.inference.probability_map import apply_map
from soulsync.questionnaire import GROUP_COLUMN, KEYS, PROFESSIONAL, STUDENT
from tests.support.shifted import ShiftedPopulation, write_export

pytest.importorskip("sklearn", reason="soulsync recalibrate needs the 'monitor' extra")
pytestmark = pytest.mark.slow  # needs a model trained on the fixture survey
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def population(survey_dir: Path) -> ShiftedPopulation:
    from soulsync.training.data import load_dataset

    data = load_dataset(survey_dir)
    return ShiftedPopulation(
        data.answers,
        data.labels,
        data.groups,
        steepness={"students": 0.5, "professionals": 1.5},
        base_rate={"students": 0.35, "professionals": 0.3},
    )


@pytest.fixture(scope="module")
def labelled(population: ShiftedPopulation, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("exports")
    return write_export(folder / "labelled.csv", *population.draw(1500, seed=1))


def recalibrate(trained, *exports: Path, out: Path, capsys=None) -> tuple[int, str]:
    status = main(
        [
            "recalibrate",
            *map(str, exports),
            "--model",
            str(trained[0] / TFLITE_FILE),
            "--out",
            str(out),
        ]
    )
    return status, capsys.readouterr().err if capsys else ""


@pytest.fixture(scope="module")
def recalibrated(trained, labelled: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("recalibrated") / "model"
    assert recalibrate(trained, labelled, out=out)[0] == 0
    return out


def test_the_folder_holds_the_same_model_and_a_new_card(trained, recalibrated: Path) -> None:
    base_dir, base = trained
    for name in (TFLITE_FILE, KERAS_FILE):
        assert (recalibrated / name).read_bytes() == (base_dir / name).read_bytes()
    card = read_card(recalibrated / TFLITE_FILE).model_card
    assert card.version != base.version and card.format == 3
    assert card.recalibration.base_version == base.version
    assert {g.status for g in card.recalibration.groups.values()} == {"refit"}
    assert card.recalibration.data[0].rows == 3000
    assert len(card.recalibration.data[0].sha256) == 64
    page = (recalibrated / card.recalibration.report).read_text()
    assert page.count("<img") == 2 and "rows not used for the fit" in page
    for group in ("students", "professionals"):
        assert (recalibrated / f"reliability-{group}.png").read_bytes().startswith(b"\x89PNG")


def test_held_out_rows_are_better_calibrated_after(recalibrated: Path) -> None:
    card = read_card(recalibrated / TFLITE_FILE).model_card
    for name, group in card.recalibration.groups.items():
        assert group.after.ece.value < group.before.ece.value, name
        assert group.after.log_loss.value < group.before.log_loss.value, name
        slope = group.after.calibration_slope
        assert slope.low < 1.0 < slope.high, name
        # The threshold keeps the rule: recall at least 0.90 on the cross-fitted probabilities.
        assert card.decision.groups[name].at_threshold.recall >= 0.9, name


def test_the_service_applies_the_map_whatever_the_backend(
    recalibrated: Path, population: ShiftedPopulation
) -> None:
    answers, _ = population.draw(50, seed=9)
    card = read_card(recalibrated / TFLITE_FILE)
    raw = LiteBackend(recalibrated / TFLITE_FILE).predict(answers)
    expected = apply_map(raw, answers[:, GROUP_COLUMN], card.probability_map)
    for model in (TFLITE_FILE, KERAS_FILE):
        client = create_app({"TESTING": True, "MODEL_PATH": str(recalibrated / model)})
        batch = [dict(zip(KEYS, row, strict=True)) for row in answers.tolist()]
        reply = client.test_client().post("/predict/batch", json={"questionnaires": batch})
        results = reply.get_json()["results"]
        assert [r["probability"] for r in results] == pytest.approx(expected, abs=2e-6), model
        assert reply.get_json()["model_version"] == card.version
        for row, result in zip(answers, results, strict=True):
            group = "students" if row[GROUP_COLUMN] == STUDENT else "professionals"
            assert result["threshold"] == pytest.approx(card.rules[group].threshold, abs=1e-6)
    keras_raw = KerasBackend(recalibrated / KERAS_FILE).predict(answers)
    assert np.max(np.abs(keras_raw - raw)) < 1e-5


def test_the_same_outcomes_give_the_same_version(
    trained, labelled: Path, recalibrated: Path, population, tmp_path: Path
) -> None:
    assert recalibrate(trained, labelled, out=tmp_path / "again")[0] == 0
    first = json.loads((recalibrated / CARD_FILE).read_text())
    assert json.loads((tmp_path / "again" / CARD_FILE).read_text()) == first
    other = write_export(tmp_path / "other.csv", *population.draw(1500, seed=2))
    assert recalibrate(trained, other, out=tmp_path / "other")[0] == 0
    assert read_card(tmp_path / "other" / TFLITE_FILE).version != first["version"]


def test_monitor_says_when_recalibration_is_due_and_when_it_is_done(
    trained, recalibrated: Path, population: ShiftedPopulation, tmp_path: Path
) -> None:
    """Collect outcomes, check, recalibrate, deploy: the shifted population reads `due` with
    the base model, and not with the recalibrated one, whose drift reference is now the local
    population (so no phantom shift)."""
    fresh = write_export(tmp_path / "fresh.csv", *population.draw(1500, seed=3))
    summaries = {}
    for label, model in (("base", trained[0]), ("recalibrated", recalibrated)):
        out = tmp_path / label
        status = main(
            ["monitor", str(fresh), "--model", str(model / TFLITE_FILE), "--out", str(out)]
        )
        summaries[label] = (status, json.loads((out / "summary.json").read_text()))
    due = {
        label: {g: found["groups"][g]["outcomes"]["recalibration_due"] for g in found["groups"]}
        for label, (_, found) in summaries.items()
    }
    assert any(due["base"].values())
    assert not any(due["recalibrated"].values())
    status, after = summaries["recalibrated"]
    assert status == 0 and after["status"] == "ok"
    outcome = after["groups"]["students"]["outcomes"]
    assert outcome["calibration_slope"]["low"] < 1 < outcome["calibration_slope"]["high"]
    assert "recalibration_rule" in after


def test_a_group_with_too_few_rows_keeps_its_map(
    trained, population: ShiftedPopulation, tmp_path: Path
) -> None:
    answers, outcomes = population.draw(1500, seed=4)
    keep = (answers[:, GROUP_COLUMN] == PROFESSIONAL) | (np.arange(len(answers)) % 100 == 0)
    export = write_export(tmp_path / "few.csv", answers[keep], outcomes[keep])
    assert recalibrate(trained, export, out=tmp_path / "few")[0] == 0
    served = read_card(tmp_path / "few" / TFLITE_FILE)
    students = served.model_card.recalibration.groups["students"]
    assert students.status == "kept" and "fewer than 20 of each" in students.note
    assert served.model_card.decision.groups["students"] == trained[1].decision.groups["students"]
    assert "students: kept" in (tmp_path / "few" / "recalibration.html").read_text()
    student = answers[answers[:, GROUP_COLUMN] == STUDENT][:5]
    before = LiteBackend(trained[0] / TFLITE_FILE).predict(student)
    after = apply_map(before, student[:, GROUP_COLUMN], served.probability_map)
    assert after == pytest.approx(before, abs=1e-12)


def test_an_export_of_one_group_keeps_the_others_map(
    trained, population: ShiftedPopulation, tmp_path: Path
) -> None:
    """A team that labels its students only: the students are re-fitted, the professionals keep
    their map and rule, and the card and the report say so."""
    answers, outcomes = population.draw(1500, seed=6)
    students = answers[:, GROUP_COLUMN] == STUDENT
    export = write_export(tmp_path / "students.csv", answers[students], outcomes[students])
    assert recalibrate(trained, export, out=tmp_path / "students")[0] == 0
    served = read_card(tmp_path / "students" / TFLITE_FILE)
    groups = served.model_card.recalibration.groups
    assert groups["students"].status == "refit"
    kept = groups["professionals"]
    assert kept.status == "kept" and kept.rows == 0 and "no row of this group" in kept.note
    assert kept.before is None and kept.after is None
    base = trained[1].decision.groups["professionals"]
    assert served.model_card.decision.groups["professionals"] == base
    assert "professionals: kept" in (tmp_path / "students" / "recalibration.html").read_text()
    client = create_app({"TESTING": True, "MODEL_PATH": str(tmp_path / "students" / TFLITE_FILE)})
    worker = dict(zip(KEYS, answers[~students][0].tolist(), strict=True))
    assert client.test_client().post("/predict", json=worker).status_code == 200


def test_refusals_write_nothing(
    trained, population: ShiftedPopulation, labelled: Path, tmp_path: Path, capsys
) -> None:
    answers, outcomes = population.draw(10, seed=5)
    few = write_export(tmp_path / "ten.csv", answers, outcomes)
    status, error = recalibrate(trained, few, out=tmp_path / "a", capsys=capsys)
    assert status == 2 and "no group has enough labelled rows to re-fit" in error
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text(
        ",".join(KEYS) + "\n" + "\n".join(",".join(map(str, row)) for row in answers.tolist()),
        encoding="utf-8",
    )
    status, error = recalibrate(trained, unlabelled, out=tmp_path / "b", capsys=capsys)
    assert status == 2
    assert (
        f"{unlabelled}: row 2, column 'Depression': missing (every row needs its outcome)" in error
    )
    occupied = tmp_path / "c"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    status, error = recalibrate(trained, labelled, out=occupied, capsys=capsys)
    assert status == 2 and "already exists and is not an empty folder" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "ten.csv", "unlabelled.csv"]
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]


def test_recalibration_never_imports_tensorflow(trained, labelled: Path, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from soulsync.cli import main\n"
        f"status = main(['recalibrate', {str(labelled)!r}, '--model', "
        f"{str(trained[0] / TFLITE_FILE)!r}, '--out', {str(tmp_path / 'new')!r}])\n"
        "assert status == 0, status\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"

"""Whatever an export holds, `soulsync monitor` (and `soulsync recalibrate`, which reads exports
the same way) stops with exit status 2 and names the file, the row and the column: never exit 1
(the `shift` status a scheduled job acts on) and never a traceback. Without the `monitor` extra
it says what to install, from this checkout's lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from soulsync.cli import main
from soulsync.questionnaire import CONTRACT_EXAMPLE, KEYS

pytest.importorskip("sklearn", reason="soulsync monitor needs the 'monitor' extra")
ROOT = Path(__file__).resolve().parents[2]
ROW = ",".join(str(CONTRACT_EXAMPLE[key]) for key in KEYS)


def run(command: str, export: Path, tmp_path: Path, capsys) -> tuple[int, str]:
    extra = ["--out", str(tmp_path / "out")]
    status = main([command, str(export), *extra])
    captured = capsys.readouterr()
    return status, captured.err


def json_line(**cells: object) -> str:
    return json.dumps(CONTRACT_EXAMPLE | cells)


CELLS = {
    "huge exponent": "1e9999999999",
    "exponent beyond any decimal": "1e9999999999999999999",
    "5,000-digit integer": "1" + "0" * 5000,
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "an object": '{"a": {"b": 1}}',
    "not a number": "NaN",
}


@pytest.mark.parametrize("command", ["monitor", "recalibrate"])
@pytest.mark.parametrize("cell", CELLS.values(), ids=CELLS.keys())
def test_a_json_cell_that_cannot_be_read_is_named(
    command: str, cell: str, tmp_path: Path, capsys
) -> None:
    export = tmp_path / "export.jsonl"
    good = json_line(Depression="Yes")
    bad = good.replace('"Pressure": 4', f'"Pressure": {cell}')
    export.write_text(f"{good}\n{bad}\n", encoding="utf-8")
    status, error = run(command, export, tmp_path, capsys)
    assert status == 2
    assert error.startswith(f"error: {export}: row 2, column 'Pressure': ")
    assert "Traceback" not in error and len(error) < 2000
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cell", CELLS.values(), ids=CELLS.keys())
def test_a_csv_cell_that_cannot_be_read_is_named(cell: str, tmp_path: Path, capsys) -> None:
    export = tmp_path / "export.csv"
    bad = ROW.replace(",4,", f',"{cell}",', 1)
    export.write_text(",".join(KEYS) + f"\n{ROW}\n{bad}\n", encoding="utf-8")
    status, error = run("monitor", export, tmp_path, capsys)
    assert status == 2
    assert error.startswith(f"error: {export}: row 3, column 'Pressure': ")
    assert "Traceback" not in error


def test_a_duplicate_csv_column_is_refused(tmp_path: Path, capsys) -> None:
    export = tmp_path / "export.csv"
    export.write_text(",".join([*KEYS, "Pressure"]) + f"\n{ROW},5\n", encoding="utf-8")
    status, error = run("monitor", export, tmp_path, capsys)
    assert status == 2
    assert f"{export}: row 1, column 'Pressure': given twice in the header" in error


def test_a_duplicate_json_key_is_refused(tmp_path: Path, capsys) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text(json_line()[:-1] + ', "Pressure": 1}\n', encoding="utf-8")
    status, error = run("monitor", export, tmp_path, capsys)
    assert status == 2
    assert f"{export}: row 1, column 'Pressure': the key 'Pressure' is given twice" in error


def test_a_line_that_is_not_json_and_a_missing_file(tmp_path: Path, capsys) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text(json_line() + "\n{broken\n", encoding="utf-8")
    status, error = run("monitor", export, tmp_path, capsys)
    assert (status, error.strip()) == (
        2,
        f"error: {export}: row 2: not a JSON object (Expecting property name enclosed in "
        "double quotes)",
    )
    status, error = run("monitor", tmp_path / "absent.csv", tmp_path, capsys)
    assert status == 2 and f"{tmp_path / 'absent.csv'}: cannot be read" in error


BLOCK_THE_EXTRA = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sklearn", "matplotlib"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from soulsync.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["monitor", "recalibrate"])
def test_without_the_extra_it_names_this_checkouts_install(command: str, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(",".join(KEYS) + f"\n{ROW}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_THE_EXTRA, command, str(export), "--out", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: soulsync {command} needs the `monitor` extra")
    assert f"make -C {ROOT} develop" in result.stderr
    assert "-r requirements/develop.txt" in result.stderr
    assert "Traceback" not in result.stderr and "soulsync[monitor]" not in result.stderr


def test_a_hostile_file_name_is_shown_escaped(tmp_path: Path, capsys) -> None:
    """A name with a terminal's control codes and a line break cannot fake a line of the
    output or recolour the terminal: it is shown escaped."""
    export = tmp_path / "x\x1b[31m\nerror: forged.jsonl"
    export.write_text(json_line(Pressure=9) + "\n", encoding="utf-8")
    status, error = run("monitor", export, tmp_path, capsys)
    assert status == 2
    assert "\x1b" not in error and error.count("\n") == 1
    assert "x\\x1b[31m\\nerror: forged.jsonl: row 1, column 'Pressure'" in error


def test_a_name_that_is_not_utf8_is_reported_and_the_report_is_written(
    tmp_path: Path, capsys
) -> None:
    name = tmp_path / "export-\udcff.jsonl"  # the byte 0xff, as Python names it
    rows = [json_line(SleepDr=code % 4, Pressure=1 + code % 5) for code in range(300)]
    name.write_text("\n".join(rows) + "\n", encoding="utf-8")
    status, _ = run("monitor", name, tmp_path, capsys)
    assert status in (0, 1)
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "export-\\xff.jsonl" in page
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["files"] == [str(tmp_path / "export-\\xff.jsonl")]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_row_longer_than_any_is_refused_by_its_row(suffix: str, tmp_path: Path, capsys) -> None:
    """A row of ten answers is a few hundred bytes: one of tens of megabytes is refused by its
    row, not read whole into memory."""
    export = tmp_path / f"export{suffix}"
    huge = "x" * (40 << 20)
    with export.open("w", encoding="utf-8") as handle:
        if suffix == ".csv":
            handle.write(",".join(KEYS) + "\n" + ROW + "\n" + ROW.replace(",4,", f",{huge},", 1))
        else:
            handle.write(json_line() + "\n" + json_line(Pressure=huge) + "\n")
    status, error = run("monitor", export, tmp_path, capsys)
    assert status == 2 and "row" in error and "Traceback" not in error
    assert len(error) < 2000

"""How long `soulsync monitor` and `soulsync recalibrate` take on a large export.

The export holds N generated questionnaires (default 100,000); each command runs as a user runs
it.

The export is CSV: random answers to every question, an outcome that depends on them (so that
every group can be re-fitted) and a timestamp each. Each command reads it itself, monitor writing
its report and recalibrate a new model folder into a temporary folder.

    python -m bench export-rows [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from soulsync.questionnaire import KEYS, QUESTIONS

SOULSYNC = Path(sys.executable).parent / "soulsync"


def write_export(path: Path, rows: int) -> None:
    rng = random.Random(3)
    suicidal, pressure = KEYS.index("SuicidalTh"), KEYS.index("Pressure")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*KEYS, "Depression", "timestamp"])
        for number in range(rows):
            answers = [rng.randint(q.min_code, q.max_code) for q in QUESTIONS]
            risk = 1.2 * (answers[suicidal] - 0.5) + 0.5 * (answers[pressure] - 3)
            outcome = "Yes" if rng.random() < 1 / (1 + math.exp(-risk)) else "No"
            writer.writerow([*answers, outcome, f"2026-11-{1 + number % 25:02d}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args(argv).rows
    failed = 0
    with tempfile.TemporaryDirectory(prefix="soulsync-export-rows-") as name:
        folder = Path(name)
        export = folder / "export.csv"
        write_export(export, rows)
        for command, out, succeeded in (
            ("monitor", folder / "report", (0, 1)),  # 1: a figure reads `shift`
            ("recalibrate", folder / "model", (0,)),
        ):
            started = time.perf_counter()
            result = subprocess.run(
                [str(SOULSYNC), command, str(export), "--out", str(out)],
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            print(result.stdout.strip() or result.stderr.strip())
            print(f"soulsync {command} on {rows:,} rows: {seconds:.1f} s "
                  f"(exit status {result.returncode})\n")  # fmt: skip
            failed |= result.returncode not in succeeded
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())

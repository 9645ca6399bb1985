"""How long `soulsync recalibrate` takes on an export of N labelled questionnaires (default
100,000): random answers of every question, an outcome that depends on them (so that every group
can be re-fitted), written as CSV and read back by the command itself, which recalibrates the
shipped model into a temporary folder.

    .venv/bin/python bench/recalibrate_rows.py [ROWS]
"""

from __future__ import annotations

import csv
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from soulsync.questionnaire import KEYS, QUESTIONS  # noqa: E402


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rng = random.Random(3)
    with tempfile.TemporaryDirectory(prefix="soulsync-recalibrate-") as folder:
        export = Path(folder) / "export.csv"
        with export.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*KEYS, "Depression"])
            for _ in range(rows):
                answers = [rng.randint(q.min_code, q.max_code) for q in QUESTIONS]
                risk = 1.2 * (answers[KEYS.index("SuicidalTh")] - 0.5) + 0.5 * (
                    answers[KEYS.index("Pressure")] - 3
                )
                outcome = rng.random() < 1 / (1 + math.exp(-risk))
                writer.writerow([*answers, "Yes" if outcome else "No"])
        command = [str(Path(sys.executable).parent / "soulsync"), "recalibrate", str(export)]
        started = time.perf_counter()
        result = subprocess.run(
            [*command, "--out", str(Path(folder) / "model")], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
    print(result.stdout.strip() or result.stderr.strip())
    print(
        f"soulsync recalibrate on {rows:,} rows: {seconds:.1f} s (exit status {result.returncode})"
    )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())

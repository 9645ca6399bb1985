"""How long `soulsync monitor` takes on an export of N questionnaires (default 100,000):
random answers of every question, an outcome and a timestamp each, written as CSV and read
back by the command itself.

    .venv/bin/python bench/export_rows.py [ROWS]
"""

from __future__ import annotations

import csv
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
    with tempfile.TemporaryDirectory(prefix="soulsync-monitor-") as folder:
        export = Path(folder) / "export.csv"
        with export.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*KEYS, "Depression", "timestamp"])
            for i in range(rows):
                answers = [rng.randint(q.min_code, q.max_code) for q in QUESTIONS]
                writer.writerow([*answers, rng.choice(["Yes", "No"]), f"2026-11-{1 + i % 25:02d}"])
        command = [str(Path(sys.executable).parent / "soulsync"), "monitor", str(export)]
        started = time.perf_counter()
        result = subprocess.run(
            [*command, "--out", str(Path(folder) / "report")], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
    print(result.stdout.strip())
    print(f"soulsync monitor on {rows:,} rows: {seconds:.1f} s (exit status {result.returncode})")
    return 0 if result.returncode in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())

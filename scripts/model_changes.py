"""What a new model changes for clients, for CHANGELOG.md's entry of each retrain: over every
questionnaire a person of each group can send, the share whose result moves (each way), the
share flagged by each model, and how far the probabilities move.

    python scripts/model_changes.py --before REF [--after soulsync/model]

REF is a commit whose soulsync/model/ is the model before (read with `git show`); the model
after is a folder (the checkout's shipped model by default). Each possible questionnaire counts
once: these are shares of the answer space, not of any population (docs/model.md has those).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soulsync.analysis.rule_choice import answer_space
from soulsync.inference.model_folder import CARD_FILE, TFLITE_FILE
from soulsync.inference.screening import Screener
from soulsync.questionnaire import GROUPS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "soulsync" / "model"


@dataclass(frozen=True)
class GroupChange:
    group: str
    questionnaires: int
    to_depression: float
    to_no_depression: float
    flagged_before: float
    flagged_after: float
    median_shift: float
    largest_shift: float

    def line(self) -> str:
        return (
            f"{self.group}: {self.questionnaires:,} questionnaires; result moves for "
            f"{self.to_depression + self.to_no_depression:.1%} ({self.to_depression:.1%} to "
            f"Depression, {self.to_no_depression:.1%} to No Depression); flagged "
            f"{self.flagged_before:.1%} before, {self.flagged_after:.1%} after; probability "
            f"moves by {self.median_shift:.3f} (median), {self.largest_shift:.3f} at most"
        )


def changes(before: Screener, after: Screener) -> list[GroupChange]:
    found = []
    for code, name in GROUPS.items():
        space = answer_space(code)
        p_before, flagged_before = before.score(space)
        p_after, flagged_after = after.score(space)
        shift = np.abs(p_after - p_before)
        found.append(
            GroupChange(
                group=name,
                questionnaires=len(space),
                to_depression=float((~flagged_before & flagged_after).mean()),
                to_no_depression=float((flagged_before & ~flagged_after).mean()),
                flagged_before=float(flagged_before.mean()),
                flagged_after=float(flagged_after.mean()),
                median_shift=float(np.median(shift)),
                largest_shift=float(shift.max()),
            )
        )
    return found


def model_at(ref: str, into: Path) -> Path:
    """The shipped model of commit `ref`, written into `into`: its LiteRT file's path."""
    for name in (CARD_FILE, TFLITE_FILE):
        blob = subprocess.run(
            ["git", "show", f"{ref}:soulsync/model/{name}"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        (into / name).write_bytes(blob)
    return into / TFLITE_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="a commit: its soulsync/model/")
    parser.add_argument("--after", type=Path, default=SHIPPED, help="a model folder")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soulsync-before-") as scratch:
        before = Screener.load(model_at(arguments.before, Path(scratch)))
    after = Screener.load(arguments.after / TFLITE_FILE)
    print(f"model {before.version} -> {after.version}")
    for change in changes(before, after):
        print(f"  {change.line()}")


if __name__ == "__main__":
    main()

"""Reading exports of answers: CSV files with a header, or JSON lines, from any number of
instances or from the app's own database.

Each row holds the ten wire keys, as codes or as labels (anything `POST /predict` accepts);
optionally `Depression` (the person's outcome: Yes/No, 1/0, true/false) and `timestamp`
(ISO 8601). Other columns are ignored and named in the report. A row that cannot be read is
never dropped: reading stops with every problem found, by file, row and column.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from soulsync import texts
from soulsync.questionnaire import BY_KEY, KEYS, POSITIVE_RESULT

OUTCOME_COLUMN = POSITIVE_RESULT  # "Depression", as in the survey
TIME_COLUMN = "timestamp"
OUTCOMES = {"yes": 1, "no": 0, "1": 1, "0": 0, "true": 1, "false": 0}
#: How many problems an error lists before it counts the rest.
LISTED_PROBLEMS = 20


class ExportError(ValueError):
    """An export that cannot be read as it is; the message names each file, row and column."""


@dataclass(frozen=True)
class Export:
    answers: np.ndarray  # (n, 10) wire codes, columns in KEYS order
    outcomes: np.ndarray | None  # (n,) 0/1, when every row has one
    first_time: datetime | None
    last_time: datetime | None
    files: list[str]
    ignored_columns: list[str]

    def __len__(self) -> int:
        return len(self.answers)


def _records(path: Path):
    """(row number, {column: value}) for each row of a CSV or JSON-lines file."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, parse_float=Decimal)
                except json.JSONDecodeError as error:
                    yield number, ValueError(f"not a JSON object ({error.msg})")
                    continue
                yield (
                    number,
                    record if isinstance(record, dict) else ValueError("not a JSON object"),
                )
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for record in reader:
            if None in record:  # more fields than the header
                yield reader.line_num, ValueError("more fields than the header has")
            else:
                yield reader.line_num, record


def _outcome(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    return OUTCOMES.get(str(value).strip().lower()) if isinstance(value, str) else None


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC, so that all compare."""
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_exports(paths: list[Path]) -> Export:
    """Every row of every file, or ExportError naming each problem (file, row, column)."""
    rows: list[list[int]] = []
    outcomes: list[int | None] = []
    times: list[datetime] = []
    problems: list[str] = []
    ignored: set[str] = set()
    for path in paths:
        try:
            records = list(_records(path))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            problems.append(f"{path}: cannot be read ({error})")
            continue
        for number, record in records:
            where = f"{path}: row {number}"
            if isinstance(record, Exception):
                problems.append(f"{where}: {record}")
                continue
            ignored.update(set(record) - {*KEYS, OUTCOME_COLUMN, TIME_COLUMN})
            codes = []
            for key in KEYS:
                if key not in record or record[key] in ("", None):
                    problems.append(f"{where}, column {key!r}: missing")
                    continue
                code = BY_KEY[key].read(record[key])
                if code is None:
                    shown = str(record[key])[:40]
                    problems.append(
                        f"{where}, column {key!r}: {shown!r} is not allowed "
                        f"(expected {texts.allowed(BY_KEY[key])})"
                    )
                codes.append(code)
            outcome = None
            if record.get(OUTCOME_COLUMN) not in (None, ""):
                outcome = _outcome(record[OUTCOME_COLUMN])
                if outcome is None:
                    problems.append(
                        f"{where}, column {OUTCOME_COLUMN!r}: "
                        f"{str(record[OUTCOME_COLUMN])[:40]!r} is not Yes, No, 1 or 0"
                    )
            if record.get(TIME_COLUMN) not in (None, ""):
                moment = _time(record[TIME_COLUMN])
                if moment is None:
                    problems.append(f"{where}, column {TIME_COLUMN!r}: not an ISO 8601 time")
                else:
                    times.append(moment)
            rows.append(codes)
            outcomes.append(outcome)
    if not problems and not rows:
        problems.append("no rows in " + ", ".join(str(p) for p in paths))
    if problems:
        listed = problems[:LISTED_PROBLEMS]
        if len(problems) > LISTED_PROBLEMS:
            listed.append(f"... and {len(problems) - LISTED_PROBLEMS} more problems")
        raise ExportError("\n".join(listed))
    known = [o for o in outcomes if o is not None]
    if known and len(known) != len(outcomes):
        raise ExportError(
            f"{len(outcomes) - len(known)} of {len(outcomes)} rows have no {OUTCOME_COLUMN!r}: "
            "give it for every row or for none"
        )
    return Export(
        answers=np.array(rows, dtype=np.int64),
        outcomes=np.array(outcomes, dtype=np.int64) if known else None,
        first_time=min(times, default=None),
        last_time=max(times, default=None),
        files=[str(path) for path in paths],
        ignored_columns=sorted(ignored),
    )

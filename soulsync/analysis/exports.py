"""Reading exports of answers: CSV files with a header, or JSON lines, from any number of
instances or from the app's own database. `soulsync monitor` and `soulsync recalibrate` read
them through here; analysis/export_rows.py reads the rows of each file format.

Each row holds the ten wire keys, as codes or as labels (anything `POST /predict` accepts);
optionally `Depression` (the person's outcome: Yes/No, 1/0, true/false) and `timestamp`
(ISO 8601). Other columns are ignored and named in the report. A row that cannot be read is
never dropped: reading stops with every problem found, by file, row and column. Whatever a cell
holds (a number with a huge exponent or thousands of digits, nesting thousands deep, a column
or key given twice), it is a problem named there, never a crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from soulsync import texts
from soulsync.analysis.export_rows import Unreadable, records
from soulsync.questionnaire import BY_KEY, KEYS, POSITIVE_RESULT

OUTCOME_COLUMN = POSITIVE_RESULT  # "Depression", as in the survey
TIME_COLUMN = "timestamp"
OUTCOMES = {"yes": 1, "no": 0, "1": 1, "0": 0, "true": 1, "false": 0}
#: How many problems an error lists before it counts the rest.
LISTED_PROBLEMS = 20
#: How much of a cell an error message shows.
SHOWN_CHARACTERS = 40


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
    #: How many of the rows come from each file, in the order of `files`.
    file_rows: list[int]

    def __len__(self) -> int:
        return len(self.answers)


def _shown(value: Any) -> str:
    """A cell as an error message shows it: the start of its text, or what kind of value it is
    (a JSON array or object is not printed: it could be nested thousands deep)."""
    if isinstance(value, Unreadable):
        value = value.text
    if isinstance(value, Decimal):
        # str() of a Decimal is cheap whatever its exponent; a 5,000-digit one is cut below.
        value = str(value)
    if isinstance(value, bool | int | float | str):
        text = str(value) if not isinstance(value, str) else value
        return repr(text[:SHOWN_CHARACTERS] + ("..." if len(text) > SHOWN_CHARACTERS else ""))
    return {dict: "a JSON object", list: "a JSON array"}.get(type(value), type(value).__name__)


def _outcome(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | Decimal) and value in (0, 1):
        return int(value)
    return OUTCOMES.get(value.strip().lower()) if isinstance(value, str) else None


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC, so that all compare."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _answer(key: str, value: Any) -> int | None:
    if isinstance(value, Unreadable | dict | list):
        return None
    return BY_KEY[key].read(value)


def shown_name(path: Path) -> str:
    """A file's name as a message or a report shows it: bytes that are not UTF-8 and characters
    that are not printable (a terminal's control codes, a line break) written as escapes."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def read_exports(paths: list[Path], *, outcomes_required: bool = False) -> Export:
    """Every row of every file, or ExportError naming each problem (file, row, column).

    With `outcomes_required` (recalibration), every row must have an outcome."""
    rows: list[list[int]] = []
    outcomes: list[int | None] = []
    times: list[datetime] = []
    problems: list[str] = []
    ignored: set[str] = set()
    starts: list[int] = []  # where each file's rows start
    for path in paths:
        starts.append(len(rows))
        try:
            rows_read = list(records(path))
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{shown_name(path)}: cannot be read ({error})")
            continue
        for number, record in rows_read:
            where = f"{shown_name(path)}: row {number}"
            if isinstance(record, str):
                problems.append(where + record)
                continue
            ignored.update(set(record) - {*KEYS, OUTCOME_COLUMN, TIME_COLUMN})
            codes = []
            for key in KEYS:
                if key not in record or record[key] in ("", None):
                    problems.append(f"{where}, column {key!r}: missing")
                    continue
                code = _answer(key, record[key])
                if code is None:
                    problems.append(
                        f"{where}, column {key!r}: {_shown(record[key])} is not allowed "
                        f"(expected {texts.allowed(BY_KEY[key])})"
                    )
                codes.append(code)
            outcome = None
            if record.get(OUTCOME_COLUMN) not in (None, ""):
                outcome = _outcome(record[OUTCOME_COLUMN])
                if outcome is None:
                    problems.append(
                        f"{where}, column {OUTCOME_COLUMN!r}: "
                        f"{_shown(record[OUTCOME_COLUMN])} is not Yes, No, 1 or 0"
                    )
            elif outcomes_required:
                problems.append(
                    f"{where}, column {OUTCOME_COLUMN!r}: missing (every row needs its outcome)"
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
        problems.append("no rows in " + ", ".join(shown_name(p) for p in paths))
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
        files=[shown_name(path) for path in paths],
        ignored_columns=sorted(ignored),
        file_rows=np.diff([*starts, len(rows)]).tolist(),
    )

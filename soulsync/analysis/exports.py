"""Reading exports of answers: CSV files with a header, or JSON lines, from any number of
instances or from the app's own database. `soulsync monitor` and `soulsync recalibrate` read
them through here.

Each row holds the ten wire keys, as codes or as labels (anything `POST /predict` accepts);
optionally `Depression` (the person's outcome: Yes/No, 1/0, true/false) and `timestamp`
(ISO 8601). Other columns are ignored and named in the report. A row that cannot be read is
never dropped: reading stops with every problem found, by file, row and column. Whatever a cell
holds (a number with a huge exponent or thousands of digits, nesting thousands deep, a column
or key given twice), it is a problem named there, never a crash.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from soulsync import texts
from soulsync.questionnaire import BY_KEY, KEYS, POSITIVE_RESULT

OUTCOME_COLUMN = POSITIVE_RESULT  # "Depression", as in the survey
TIME_COLUMN = "timestamp"
OUTCOMES = {"yes": 1, "no": 0, "1": 1, "0": 0, "true": 1, "false": 0}
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
#: How many problems an error lists before it counts the rest.
LISTED_PROBLEMS = 20
#: The longest CSV field read (the whole file is read into memory anyway).
FIELD_SIZE_LIMIT = 2**31 - 1
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


@dataclass(frozen=True)
class Unreadable:
    """A JSON number that no reader can hold (an exponent beyond what a decimal can carry)."""

    text: str


class _RowProblem(ValueError):
    """A JSON line that cannot be read, with the key whose value is the problem, if known."""

    def __init__(self, problem: str, key: str | None = None) -> None:
        super().__init__(problem)
        self.key = key


def _number(text: str) -> Decimal | Unreadable:
    """Every JSON number as an exact Decimal (no float rounding, no limit on digits), or
    Unreadable: never an exception."""
    try:
        return Decimal(text)
    except InvalidOperation:
        return Unreadable(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RowProblem(f"the key {key!r} is given twice", key)
        found[key] = value
    return found


DECODER = json.JSONDecoder(
    parse_float=_number, parse_int=_number, object_pairs_hook=_no_duplicate_keys
)
_SPACE = " \t\r\n"


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def _culprit(line: str) -> str | None:
    """The key of the first value of a JSON object line that cannot be decoded on its own (a
    nesting too deep, say), or None: only used to name the column once decoding has failed."""
    at = _skip_space(line, 0)
    if not line.startswith("{", at):
        return None
    at = _skip_space(line, at + 1)
    while at < len(line) and line[at] == '"':
        key = None
        try:
            key, at = DECODER.raw_decode(line, at)
            at = _skip_space(line, at)
            if not line.startswith(":", at):
                return None
            _, at = DECODER.raw_decode(line, _skip_space(line, at + 1))
        except (ValueError, ArithmeticError, RecursionError):
            return key if isinstance(key, str) else None
        at = _skip_space(line, at)
        if not line.startswith(",", at):
            return None
        at = _skip_space(line, at + 1)
    return None


def _json_record(line: str) -> dict[str, Any]:
    try:
        record = DECODER.decode(line)
    except _RowProblem:
        raise
    except json.JSONDecodeError as error:
        raise _RowProblem(f"not a JSON object ({error.msg})", _culprit(line)) from error
    except RecursionError as error:
        raise _RowProblem("nested too deep to read", _culprit(line)) from error
    except (ValueError, ArithmeticError) as error:
        raise _RowProblem(f"cannot be read ({type(error).__name__})", _culprit(line)) from error
    if not isinstance(record, dict):
        raise _RowProblem("not a JSON object")
    return record


def _json_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, _json_record(line)
            except _RowProblem as problem:
                column = f", column {problem.key!r}" if problem.key is not None else ""
                yield number, f"{column}: {problem}"


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    # The csv module refuses a field over 128 KiB with an error that names no column; lifted
    # while this file is read, such a cell is read and refused like any other, by its column.
    limit = csv.field_size_limit(FIELD_SIZE_LIMIT)
    try:
        yield from _csv_rows(path)
    finally:
        csv.field_size_limit(limit)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except csv.Error as error:
            yield 1, f": the header cannot be read ({error})"
            return
        if header is None:
            return
        seen: dict[str, int] = {}
        for position, name in enumerate(header, start=1):
            if name in seen:
                yield (
                    1,
                    (
                        f", column {name!r}: given twice in the header (columns {seen[name]} and "
                        f"{position}); which one holds the answers is not clear"
                    ),
                )
                return
            seen[name] = position
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as error:
                yield reader.line_num, f": cannot be read ({error}); reading stopped there"
                return
            if not row:
                continue
            if len(row) > len(header):
                yield reader.line_num, ": more fields than the header has"
                continue
            yield reader.line_num, dict(zip(header, row, strict=False))


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, {column: value}) for each row of a CSV or JSON-lines file, or (row number,
    what is wrong, starting with the column if one is to blame)."""
    if path.suffix.lower() in JSON_SUFFIXES:
        return _json_records(path)
    return _csv_records(path)


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
            records = list(_records(path))
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot be read ({error})")
            continue
        for number, record in records:
            where = f"{path}: row {number}"
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
        file_rows=np.diff([*starts, len(rows)]).tolist(),
    )

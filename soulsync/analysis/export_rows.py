"""The rows of an export file, whatever its format: CSV with a header, or JSON lines (one object
per line). Each row comes as (row number, {column: value}) or (row number, what is wrong with it,
starting with the column to blame if one is). JSON numbers are read exactly (Decimal) and a key
given twice is a problem of its row; whatever a cell holds, it is never a crash.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


#: The longest JSON line and CSV field read: a row of ten answers is a few hundred bytes, and a
#: longer one is refused by its row before it fills the memory.
ROW_BYTES = 1 << 20


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


def _lines(handle: Any) -> Iterator[str | None]:
    """Each line of a text file, or None for one longer than ROW_BYTES (read past, not kept)."""
    while line := handle.readline(ROW_BYTES + 1):
        if len(line) <= ROW_BYTES or line.endswith("\n"):
            yield line
            continue
        while (rest := handle.readline(ROW_BYTES)) and not rest.endswith("\n"):
            pass
        yield None


def _json_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(_lines(handle), start=1):
            if line is None:
                yield number, f": longer than {ROW_BYTES:,} characters"
                continue
            if not line.strip():
                continue
            try:
                yield number, _json_record(line)
            except _RowProblem as problem:
                column = f", column {problem.key!r}" if problem.key is not None else ""
                yield number, f"{column}: {problem}"


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    # The csv module's own limit is 128 KiB; while this file is read, a field up to ROW_BYTES is
    # read and refused like any other cell, by its column, and a longer one stops the reading
    # at its row.
    limit = csv.field_size_limit(ROW_BYTES)
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


def records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, {column: value}) for each row of a CSV or JSON-lines file, or (row number,
    what is wrong, starting with the column if one is to blame)."""
    if path.suffix.lower() in JSON_SUFFIXES:
        return _json_records(path)
    return _csv_records(path)

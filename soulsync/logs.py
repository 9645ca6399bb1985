"""Log lines: one JSON object per line on stdout, in the shape Cloud Logging reads.

Used by the service's own loggers and by gunicorn's (gunicorn.conf.py names the formatter).
Nothing a client sends is ever logged: it is health data.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

logger = logging.getLogger("soulsync")

#: Cloud Logging's severities are Python's level names; any other level is DEFAULT.
_SEVERITIES = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line (`severity`, `message`, `time`, `logger`, and the record's
    `fields`), as Cloud Logging's structured logging expects."""

    #: The last second formatted, and its text: lines come many a second.
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        second = self._second
        if second[0] != seconds:  # one tuple, swapped whole: safe across threads
            second = self._second = (
                seconds,
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)),
            )
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname in _SEVERITIES else "DEFAULT",
            "message": record.getMessage(),
            "time": f"{second[1]}.{int((record.created - seconds) * 1000):03d}Z",
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    """The service's loggers write JSON lines to stdout (once per process)."""
    if not any(getattr(h, "soulsync", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        handler.soulsync = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)

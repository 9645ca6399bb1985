"""What a setting is, and how its text is read: each reader returns the value or raises
ValueError saying what is allowed (soulsync/config.py names the variable)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soulsync.contacts import read_contacts


@dataclass(frozen=True)
class Setting:
    env: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    #: The app.config key of a service setting; None for a server setting (gunicorn.conf.py).
    key: str | None = None
    #: How the docs show the default, where the value itself would not say it.
    shown: str | None = None

    @property
    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.parse is read_contacts:
            return json.dumps(self.default)
        if isinstance(self.default, list):
            return ",".join(self.default)
        return str(self.default)


def comma_list(text: str) -> list[str]:
    """Comma-separated items, blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


_ORIGIN = re.compile(r"(https?)://(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(:[0-9]{1,5})?", re.ASCII)


def cors_origins(origins: list[str]) -> list[str | re.Pattern[str]]:
    """What CORS allows, as flask-cors takes it: `*` (any origin), exact origins
    (`https://app.example`), and subdomain wildcards (`https://*.example.com` allows
    `https://a.example.com` and `https://a.b.example.com`, and nothing else), as anchored
    patterns. Raises ValueError for anything else."""
    allowed: list[str | re.Pattern[str]] = []
    for origin in origins:
        if origin == "*":
            allowed.append(origin)
            continue
        parts = _ORIGIN.fullmatch(origin.lower())
        if parts is None:
            raise ValueError(
                f"{origin!r} is not an origin: use *, scheme://host[:port] or "
                "scheme://*.domain[:port]"
            )
        scheme, wildcard, host, port = parts.groups()
        if wildcard:
            subdomains = r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\."
            pattern = rf"{scheme}://{subdomains}{re.escape(host)}{re.escape(port or '')}\Z"
            allowed.append(re.compile(pattern, re.IGNORECASE | re.ASCII))
        else:
            allowed.append(origin.lower())
    return allowed


def origins(text: str) -> list[str]:
    if text.strip().lower() == "none":
        return []
    origins = comma_list(text)
    cors_origins(origins)  # refuses what is not an origin, at start-up
    return origins


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{value} is not a positive whole number")
    return value


#: The log levels a setting may name (Python's, which Cloud Logging reads as severities).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"{text!r} is not a log level: use one of {', '.join(LOG_LEVELS)}")
    return level


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"{value} is not a port")
    return value

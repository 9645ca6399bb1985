"""Settings: defaults < SOULSYNC_* environment variables < the mapping given to create_app().

Every setting is listed once in SETTINGS with its default, its type and what it does; the README
table and `.env.example` are written from the same list (a test checks they agree).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from soulsync.inference.card import DEFAULT_MODEL_PATH

ENV_PREFIX = "SOULSYNC_"

DEFAULT_SUPPORT_MESSAGE = (
    "You do not have to face this alone. If you are thinking about suicide or are in danger, "
    "please contact someone now."
)
DEFAULT_SUPPORT_CONTACTS = [
    {"name": "Emergency services (Indonesia)", "phone": "112"},
    {"name": "SEJIWA, Indonesia's national mental-health line", "phone": "119 ext. 8"},
]


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "MODEL_PATH",
        str(DEFAULT_MODEL_PATH),
        str,
        "Model file to serve: .tflite (LiteRT, default) or .keras/.h5 (needs the train "
        "extra). Its model_card.json is read from the same folder when it describes it.",
    ),
    Setting(
        "CORS_ORIGINS",
        ["*"],
        _csv,
        "Comma-separated origins allowed by CORS; * (the default) allows any, as before.",
    ),
    Setting("LOG_LEVEL", "INFO", str, "Log level of the service's own logger."),
    Setting("BATCH_LIMIT", 1000, int, "Most questionnaires accepted by POST /predict/batch."),
    Setting(
        "MAX_CONTENT_LENGTH",
        2 * 1024 * 1024,
        int,
        "Largest request body in bytes; a larger one gets 413.",
    ),
    Setting("TOP_FACTORS", 3, int, "How many answers the reply lists as the score's top factors."),
    Setting(
        "SUPPORT_MESSAGE",
        DEFAULT_SUPPORT_MESSAGE,
        str,
        "Text of the support block shown with a Depression result or suicidal thoughts.",
    ),
    Setting(
        "SUPPORT_CONTACTS",
        DEFAULT_SUPPORT_CONTACTS,
        json.loads,
        'Support contacts as JSON: [{"name": "...", "phone": "..."}, ...].',
    ),
)


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting, from SOULSYNC_<NAME> where set, else its default."""
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as error:
            raise ValueError(f"{setting.env}: {error}") from error
    return values

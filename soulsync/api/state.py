"""What the HTTP layer keeps on the app: set once by `soulsync.api.init_app`, read by views."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_smorest import Api

from soulsync.api.padding import ReplySize
from soulsync.inference.screening import Screener
from soulsync.metrics import LiveCounts

EXTENSION = "soulsync"


@dataclass(frozen=True)
class ApiState:
    api: Api
    screener: Screener
    #: What the screener has seen, counted (for /metrics and /monitoring).
    live: LiveCounts
    #: The size every screening reply is padded to.
    reply_size: ReplySize


def state() -> ApiState:
    return current_app.extensions[EXTENSION]

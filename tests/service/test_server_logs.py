"""What gunicorn's log lets through: its own messages about workers and signals, which an
operator needs (a worker killed for taking too long), and nothing else a client could have sent."""

from __future__ import annotations

import logging

import pytest

from soulsync.server import WithheldClientBytes, _LoopErrors


def filtered(message: str, *args: object) -> str:
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, message, args, None)
    WithheldClientBytes().filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    ("template", "args"),
    [
        ("WORKER TIMEOUT (pid:%s)", (41,)),
        ("Worker (pid:%s) was sent %s! Perhaps out of memory?", (41, "SIGKILL")),
        ("Worker (pid:%s) exited with code %s.", (41, 3)),
        ("Booting worker with pid: %s", (41,)),
        ("Connection in use: %s", ("('0.0.0.0', 8080)",)),
        ("Retrying in 1 second.", ()),
        ("Can't connect to %s", ("('0.0.0.0', 8080)",)),
    ],
)
def test_gunicorn_messages_about_workers_are_kept(template: str, args: tuple) -> None:
    assert filtered(template, *args) == template % args


def test_other_messages_are_withheld() -> None:
    line = filtered("Invalid request from ip=%s: %s", "10.0.0.1", "GET /zq-canary")
    assert "zq-canary" not in line and "10.0.0.1" not in line
    assert "withheld" in line


def test_loop_errors_reach_the_log_without_their_details(caplog) -> None:
    stream = _LoopErrors()
    with caplog.at_level(logging.ERROR, logger="soulsync.server"):
        stream.write("Traceback ...\nzq-canary\n<Greenlet at 0x1> failed with OSError\n\n")
    (record,) = caplog.records
    assert "OSError" in record.getMessage() and "zq-canary" not in record.getMessage()

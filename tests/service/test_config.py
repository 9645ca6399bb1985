"""Settings come from defaults, then SOULSYNC_* variables, then create_app(config); every one
is documented, from the same list, in docs/configuration.md and .env.example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from soulsync.app import create_app
from soulsync.config import (
    SERVER_SETTINGS,
    ConfigError,
    from_environment,
    server_settings,
)

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_without_environment() -> None:
    values = from_environment({})
    assert values["BATCH_LIMIT"] == 500
    assert values["CORS_ORIGINS"] == []  # no CORS: the service's caller is a backend


def test_environment_overrides_defaults() -> None:
    values = from_environment(
        {
            "SOULSYNC_BATCH_LIMIT": "5",
            "SOULSYNC_CORS_ORIGINS": "https://a.example, https://*.b.example",
            "SOULSYNC_SUPPORT_CONTACTS": '[{"name": "x", "phone": "123"}]',
        }
    )
    assert values["BATCH_LIMIT"] == 5
    assert values["CORS_ORIGINS"] == ["https://a.example", "https://*.b.example"]
    assert values["SUPPORT_CONTACTS"] == [{"name": "x", "phone": "123"}]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        # The shape of before, name and phone, is still read.
        ([{"name": "Campus line", "phone": "0211234567"}], None),
        # A url beside the phone.
        (
            [{"name": "Chat", "phone": "119", "url": "https://healing119.id/chat"}],
            None,
        ),
        # Written for the eye: spaces, dashes, dots and brackets are dropped.
        (
            [{"name": "JakCare", "phone": "0800-1500-119"}, {"name": "x", "phone": "(021) 555.01"}],
            [{"name": "JakCare", "phone": "08001500119"}, {"name": "x", "phone": "02155501"}],
        ),
        # An international number keeps its +.
        (
            [{"name": "Line", "phone": "+62 811 3855 472"}],
            [{"name": "Line", "phone": "+628113855472"}],
        ),
    ],
)
def test_support_contacts_are_read_as_dialable(written: list, read: list | None) -> None:
    values = from_environment({"SOULSYNC_SUPPORT_CONTACTS_ID": json.dumps(written)})
    assert values["SUPPORT_CONTACTS_ID"] == (written if read is None else read)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ([{"name": "SEJIWA", "phone": "119 ext. 8"}], "'119 ext. 8' is not a number a tel: link"),
        ([{"name": "x", "phone": "12"}], "is not a number a tel: link"),
        ([{"name": "x", "phone": "119", "url": "http://healing119.id"}], "is not an https URL"),
        ([{"name": "x", "phone": "119", "url": "healing119.id"}], "is not an https URL"),
        ([{"name": "x", "phone": "119", "web": "https://a.example"}], "optional"),
        ([{"name": " ", "phone": "119"}], "expected a JSON list"),
        ([{"name": "x", "phone": 119}], "expected a JSON list"),
        ([], "at least one"),
        ({"name": "x", "phone": "119"}, "expected a JSON list"),
    ],
)
@pytest.mark.parametrize("variable", ["SOULSYNC_SUPPORT_CONTACTS", "SOULSYNC_SUPPORT_CONTACTS_ID"])
def test_support_contacts_that_cannot_be_dialled_stop_start_up(
    variable: str, written: object, said: str
) -> None:
    """A phone a tel: link cannot dial, a url that is not https, an unknown key or no contact
    at all: start-up stops, naming the variable and what is wrong."""
    with pytest.raises(ConfigError, match=re.escape(said)) as error:
        from_environment({variable: json.dumps(written)})
    assert str(error.value).startswith(f"{variable}: ")


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SOULSYNC_BATCH_LIMIT"):
        from_environment({"SOULSYNC_BATCH_LIMIT": "many"})


def test_factory_config_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOULSYNC_BATCH_LIMIT", "7")
    assert create_app().config["BATCH_LIMIT"] == 7
    assert create_app({"BATCH_LIMIT": 9}).config["BATCH_LIMIT"] == 9


def test_every_setting_gunicorn_reads_is_defined_once() -> None:
    """gunicorn.conf.py takes its values from config.SERVER_SETTINGS, never from os.environ."""
    text = (ROOT / "gunicorn.conf.py").read_text(encoding="utf-8")
    assert "os.environ.get" not in text and "os.getenv" not in text
    for setting in SERVER_SETTINGS:
        assert f'_settings["{setting.env}"]' in text.replace("'", '"'), setting.env


def test_server_settings_are_checked() -> None:
    assert server_settings({})["PORT"] == 8080
    with pytest.raises(ConfigError, match="GUNICORN_WORKER_CONNECTIONS"):
        server_settings({"GUNICORN_WORKER_CONNECTIONS": "0"})


def test_a_log_level_that_is_not_one_stops_start_up() -> None:
    """gunicorn would otherwise fail to boot its worker with a bare line of Python's on stderr."""
    assert from_environment({"SOULSYNC_LOG_LEVEL": "warning"})["LOG_LEVEL"] == "WARNING"
    with pytest.raises(ConfigError, match="SOULSYNC_LOG_LEVEL: 'NOPE' is not a log level"):
        from_environment({"SOULSYNC_LOG_LEVEL": "NOPE"})

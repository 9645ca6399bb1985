"""Settings come from defaults, then SOULSYNC_* variables, then create_app(config); every one
is documented, from the same list, in docs/configuration.md and .env.example."""

from __future__ import annotations

from pathlib import Path

import pytest

from soulsync.app import create_app
from soulsync.config import (
    SERVER_SETTINGS,
    ConfigError,
    env_example,
    from_environment,
    markdown_page,
    server_settings,
)

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_without_environment() -> None:
    values = from_environment({})
    assert values["BATCH_LIMIT"] == 500
    assert values["CORS_ORIGINS"] == []  # no CORS: the service's caller is a backend


def test_environment_overrides_defaults() -> None:
    values = from_environment(
        {
            "SOULSYNC_BATCH_LIMIT": "5",
            "SOULSYNC_CORS_ORIGINS": "https://a.example, https://*.b.example",
            "SOULSYNC_SUPPORT_CONTACTS": '[{"name": "x", "phone": "1"}]',
        }
    )
    assert values["BATCH_LIMIT"] == 5
    assert values["CORS_ORIGINS"] == ["https://a.example", "https://*.b.example"]
    assert values["SUPPORT_CONTACTS"] == [{"name": "x", "phone": "1"}]


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SOULSYNC_BATCH_LIMIT"):
        from_environment({"SOULSYNC_BATCH_LIMIT": "many"})


def test_factory_config_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOULSYNC_BATCH_LIMIT", "7")
    assert create_app().config["BATCH_LIMIT"] == 7
    assert create_app({"BATCH_LIMIT": 9}).config["BATCH_LIMIT"] == 9


@pytest.mark.parametrize(
    ("path", "text"), [(".env.example", env_example), ("docs/configuration.md", markdown_page)]
)
def test_generated_settings_files_are_current(path: str, text) -> None:
    committed = (ROOT / path).read_text(encoding="utf-8")
    assert committed == text(), f"{path} is stale: run `make settings`"


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

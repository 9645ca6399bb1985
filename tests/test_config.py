"""Settings come from defaults, then SOULSYNC_* variables, then create_app(config); every one
is documented in the README and .env.example."""

from __future__ import annotations

from pathlib import Path

import pytest

from soulsync import create_app
from soulsync.config import SETTINGS, env_example, from_environment

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_without_environment() -> None:
    values = from_environment({})
    assert values["BATCH_LIMIT"] == 1000
    assert values["CORS_ORIGINS"] == ["*"]


def test_environment_overrides_defaults() -> None:
    values = from_environment(
        {
            "SOULSYNC_BATCH_LIMIT": "5",
            "SOULSYNC_CORS_ORIGINS": "a, b",
            "SOULSYNC_SUPPORT_CONTACTS": '[{"name": "x", "phone": "1"}]',
        }
    )
    assert values["BATCH_LIMIT"] == 5
    assert values["CORS_ORIGINS"] == ["a", "b"]
    assert values["SUPPORT_CONTACTS"] == [{"name": "x", "phone": "1"}]


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SOULSYNC_BATCH_LIMIT"):
        from_environment({"SOULSYNC_BATCH_LIMIT": "many"})


def test_factory_config_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOULSYNC_BATCH_LIMIT", "7")
    assert create_app().config["BATCH_LIMIT"] == 7
    assert create_app({"BATCH_LIMIT": 9}).config["BATCH_LIMIT"] == 9


def test_every_setting_is_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert setting.env in text, f"{setting.env} missing from the README"


def test_env_example_is_current() -> None:
    committed = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert committed == env_example(), ".env.example is stale: run `make env-example`"

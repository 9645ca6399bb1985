"""The settings as people read them: `.env.example` and docs/configuration.md, written from
soulsync/config.py's list (generators/ writes them: `make settings`)."""

from __future__ import annotations

from soulsync.config import SETTINGS


def env_example() -> str:
    """The text of `.env.example`: every setting with its help and default."""
    lines = ["# Every setting of the service, with its default.", ""]
    for setting in SETTINGS:
        lines += [f"# {setting.help}", f"# {setting.env}={setting.shown_default}", ""]
    return "\n".join(lines)


def markdown_page() -> str:
    """docs/configuration.md: how settings combine, and every one of them."""
    rows = [
        "# Configuration",
        "",
        "Every setting is an environment variable, and all are optional. Service settings "
        "(`SOULSYNC_*`) are read when the app is built: defaults, then the environment, then the "
        "mapping given to `create_app()` (tests). Server settings are read by gunicorn.conf.py. "
        "A value that cannot be read stops start-up with one line naming the variable. "
        "`.env.example` lists the same settings.",
        "",
        "| variable | default | what it does |",
        "|---|---|---|",
    ]
    for setting in SETTINGS:
        default = setting.shown_default.replace("|", "\\|")
        if default and not default.startswith("("):
            default = f"`{default}`"
        rows.append(f"| `{setting.env}` | {default or '(empty)'} | {setting.help} |")
    return "\n".join(rows) + "\n"

"""Every curl example of the README's API section runs against gunicorn and gives the status
its `# -> STATUS` line promises."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import running_server

ROOT = Path(__file__).resolve().parents[2]
README_BASE = "http://localhost:8080"


def readme_examples() -> list[tuple[str, int]]:
    """(command, expected status) for each curl example in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"\n    (curl .+?)\n    # -> (\d{3})", text, re.S)
    return [(re.sub(r"\\\n\s*", " ", command), int(status)) for command, status in examples]


EXAMPLES = readme_examples()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


def test_readme_has_examples_for_every_endpoint() -> None:
    commands = " ".join(command for command, _ in EXAMPLES)
    for path in (
        "/predict",
        "/prediction/",
        "/predict/batch",
        "/questionnaire",
        "/model",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ):
        assert f"{README_BASE}{path}" in commands, path


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(("command", "status"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_readme_example_runs(server: str, command: str, status: int) -> None:
    result = subprocess.run(
        ["bash", "-c", command.replace(README_BASE, server) + " -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, code = result.stdout.rpartition("\n")
    assert int(code) == status, result.stdout
    json.loads(body)  # every reply is JSON

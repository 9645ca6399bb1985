"""Every curl example of the README and docs/ runs against gunicorn and gives the status its
`# -> STATUS` line promises."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_BASE = "http://localhost:8080"


def documented_examples() -> list[tuple[str, int]]:
    """(command, expected status) for each curl example in the README and docs/."""
    examples = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        found = re.findall(r"\n    (curl .+?)\n    # -> (\d{3})", text, re.S)
        examples += [(re.sub(r"\\\n\s*", " ", command), int(code)) for command, code in found]
    return examples


EXAMPLES = documented_examples()


def test_docs_have_examples_for_every_endpoint() -> None:
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
def test_documented_example_runs(server, command: str, status: int) -> None:
    result = subprocess.run(
        ["bash", "-c", command.replace(README_BASE, server.base) + " -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, code = result.stdout.rpartition("\n")
    assert int(code) == status, result.stdout
    json.loads(body)  # every reply is JSON

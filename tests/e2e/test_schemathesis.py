"""schemathesis, every check (`--checks all`), against the service under gunicorn, from the
OpenAPI document the service serves: every request the document calls valid is accepted (the
body's limits are in it), every request it calls invalid is refused, every reply is what it
documents. No finding at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import Server

pytestmark = pytest.mark.e2e


def test_schemathesis_finds_nothing(server: Server, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"), "run",
            f"{server.base}/openapi.json", "--checks", "all", "--workers", "1",
            "--seed", "20261207", "--max-examples", "50", "--generation-database", "none",
            "--report", "json", "--report-json-path", str(report), "--no-color",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert report.exists(), result.stdout + result.stderr
    found = json.loads(report.read_text(encoding="utf-8"))
    assert found["complete"] and found["errors"] == [], result.stdout
    assert found["test_cases"]["generated"] > 500
    assert found["failures"] == [], result.stdout

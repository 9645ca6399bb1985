"""Starting the service's entry point in a process of its own, as gunicorn does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def import_wsgi(**env: str) -> subprocess.CompletedProcess[str]:
    """`import wsgi` in a fresh interpreter with only these settings in its environment."""
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        timeout=300,
    )

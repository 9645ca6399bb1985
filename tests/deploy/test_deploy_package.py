"""The deploy package runs in Cloud Build's and Cloud Deploy's images and in an operator's shell
beside gcloud, where the project is not installed, and generators/lock.py runs before anything
is installed: every module of theirs imports the standard library and its own package only,
nothing of soulsync (read from the imports, not run), and each program starts under a
standard-library-only interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = [*sorted((ROOT / "deploy").glob("*.py")), ROOT / "generators" / "lock.py"]
PROGRAMS = [path for path in MODULES if 'if __name__ == "__main__":' in path.read_text("utf-8")]


def imported(path: Path) -> set[str]:
    """The top-level names of every module `path` imports, wherever the import sits."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("deploy" if node.level else (node.module or "").split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_each_module_imports_the_standard_library_and_its_package_only(path: Path) -> None:
    foreign = imported(path) - set(sys.stdlib_module_names) - {"__future__", "deploy"}
    assert foreign == set(), f"{path.name} imports {sorted(foreign)}"
    assert "soulsync" not in imported(path)


def test_the_check_reads_what_it_should() -> None:
    """The rule above is not vacuous: a module of soulsync's imports fail it."""
    assert {"flask", "soulsync"} <= imported(ROOT / "soulsync" / "app.py")
    assert {"deploy", "json"} <= imported(ROOT / "deploy" / "verify.py")


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_each_program_starts_with_the_standard_library_only(program: Path) -> None:
    """deploy's programs as `python3 -m deploy.NAME`, lock.py by its path, as they are run."""
    run = ["-m", f"deploy.{program.stem}"] if program.parent.name == "deploy" else [str(program)]
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-S", *run, "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")

"""The package's layering holds: every module imports on its own in a fresh interpreter, no
import hides inside a function (bar the documented lazy imports of optional extras), the
layers import only what they may, and serving never loads TensorFlow."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "soulsync").rglob("*.py")
)
#: Function-level imports allowed, each of an optional extra's stack (TensorFlow for `train`,
#: matplotlib and scikit-learn for `monitor`, which `recalibrate` needs too), with its reason
#: written beside it: (file, function, module imported).
LAZY_IMPORTS = {
    ("soulsync/cli.py", "_train", "soulsync.training.data"),
    ("soulsync/cli.py", "_train", "soulsync.training.pipeline"),
    ("soulsync/cli.py", "_check_model", "soulsync.training.check"),
    ("soulsync/cli.py", "_check_model", "soulsync.training.data"),
    ("soulsync/cli.py", "_monitor", "soulsync.monitor"),
    ("soulsync/cli.py", "_monitor", "soulsync.analysis.exports"),
    ("soulsync/cli.py", "_monitor", "soulsync.monitor.report"),
    ("soulsync/cli.py", "_recalibrate", "soulsync.analysis.exports"),
    ("soulsync/cli.py", "_recalibrate", "soulsync.recalibration"),
    ("soulsync/cli.py", "_recalibrate", "soulsync.recalibration.report"),
    ("soulsync/inference/backends.py", "__init__", "keras"),
}


def _import_alone(module: str) -> str | None:
    """None if `module` imports in a fresh interpreter, else what went wrong."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return None if result.returncode == 0 else result.stderr.strip().splitlines()[-1]


def test_every_module_imports_on_its_own() -> None:
    # Side by side: the TensorFlow modules take seconds each to import.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        problems = dict(zip(MODULES, pool.map(_import_alone, MODULES), strict=True))
    assert {module: problem for module, problem in problems.items() if problem} == {}
    assert "soulsync.app" in problems and "soulsync.training.pipeline" in problems


def test_no_import_hides_inside_a_function() -> None:
    found = set()
    for path in [*(ROOT / "soulsync").rglob("*.py"), ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                for name in names:
                    found.add((str(path.relative_to(ROOT)), function.name, name))
    assert found == LAZY_IMPORTS


def test_serving_never_imports_tensorflow(contract: dict) -> None:
    code = (
        "import sys\n"
        "from soulsync.app import create_app\n"
        "client = create_app().test_client()\n"
        f"assert client.post('/predict', json={contract['example']!r}).status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _imports_of(folder: str) -> dict[str, set[str]]:
    """Every module each file under `folder` imports (at any depth of the file)."""
    found = {}
    for path in (ROOT / folder).rglob("*.py") if (ROOT / folder).is_dir() else [ROOT / folder]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("folder", "forbidden", "allowed"),
    [
        (
            "soulsync/api",
            ("soulsync.training", "tensorflow", "keras", "soulsync.app", "soulsync.analysis"),
            (),
        ),
        (
            "soulsync/inference",
            (
                "flask",
                "flask_smorest",
                "soulsync.api",
                "soulsync.app",
                "soulsync.metrics",
                "soulsync.observability",
                "soulsync.logs",
                "soulsync.texts",
                "prometheus_client",
                "soulsync.analysis",
                "sklearn",
                "matplotlib",
            ),
            (),
        ),
        # The package stands on its own: the tooling around it may import it, never the reverse.
        ("soulsync", ("generators", "deploy", "bench", "tests", "scripts"), ()),
        (
            "soulsync/monitor",
            ("tensorflow", "keras", "flask", "soulsync.api", "soulsync.app", "soulsync.training"),
            (),
        ),
        (
            "soulsync/recalibration",
            ("tensorflow", "keras", "flask", "soulsync.api", "soulsync.app", "soulsync.training"),
            (),
        ),
        # The TensorFlow-free floor that training, the monitor and recalibration share.
        (
            "soulsync/analysis",
            (
                "tensorflow",
                "keras",
                "flask",
                "soulsync.api",
                "soulsync.app",
                "soulsync.training",
                "soulsync.monitor",
                "soulsync.recalibration",
            ),
            (),
        ),
        # The ground floor: the questionnaire reads its labels in every language from the
        # catalogs, which import nothing of the project.
        (
            "soulsync/questionnaire.py",
            ("soulsync",),
            ("soulsync.translations", "soulsync.question"),
        ),
        ("soulsync/question.py", ("soulsync",), ("soulsync.translations",)),
        ("soulsync/translations", ("soulsync",), ()),
        (
            "soulsync/texts.py",
            ("soulsync.api", "soulsync.app", "flask"),
            (),
        ),
    ],
)
def test_the_layers_hold(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    """HTTP knows no TensorFlow, no scikit-learn and no factory; the domain knows no HTTP, no
    logs, no metrics, no client sentences and none of the monitor extra (the serving install
    lacks it); the offline tools know no TensorFlow and no HTTP; the questionnaire and its
    catalogs are the ground floor, and the texts stand on them."""
    for path, names in _imports_of(folder).items():
        broken = {
            n
            for n in names
            if (n.split(".")[0] in forbidden or n.startswith(forbidden)) and n not in allowed
        }
        assert broken == set(), path


def test_no_module_is_over_300_lines() -> None:
    """A module that long does several jobs: split it by job (docs/architecture.md)."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "soulsync").rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 300
    }
    assert long == {}

"""An artifact's version (a trained model, a recalibrated one): a short hash of what determines
it, its code among that. The code is a package's modules and every project module they import,
however deeply, found by reading their imports, so that no list has to be kept and a new module
cannot silently drop out."""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]


def _module_file(name: str) -> Path | None:
    """The file of project module `name` (soulsync.x.y), if it is one. The project's own
    `__init__` holds only the service's version, which determines no artifact."""
    parts = name.split(".")
    if parts[0] != PROJECT.name or len(parts) == 1:
        return None
    base = PROJECT.parent.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path) -> set[Path]:
    """The project's modules that the module at `path` imports (and their packages)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            parts = name.split(".")
            for end in range(2, len(parts) + 1):  # a module's packages run too
                if (file := _module_file(".".join(parts[:end]))) is not None:
                    found.add(file)
    return found


def code_files(package: Path) -> list[Path]:
    """The modules of `package` (a folder of the project) and every project module they import."""
    files: set[Path] = set()
    pending = set(package.glob("*.py"))
    while pending:
        path = pending.pop()
        files.add(path)
        pending |= _imported(path) - files
    return sorted(files)


def code_sha256(package: Path) -> str:
    """A hash of `code_files(package)`: their paths in the project and their bytes."""
    digest = hashlib.sha256()
    for path in code_files(package):
        name = path.relative_to(PROJECT).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """The installed version of each named distribution (whose versions determine an artifact)."""
    return {name: metadata.version(name) for name in names}


def artifact_version(determined: Mapping[str, Any]) -> str:
    """A short hash of what determines an artifact (data, code, libraries, settings), not of its
    bytes: the same inputs give the same version on any machine, even where a retrain's weights
    differ in their last bit."""
    text = json.dumps(determined, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]

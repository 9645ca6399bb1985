"""The modules of scripts/ (a folder of programs, not a package), imported by their path under
their own names, as they import each other when run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FOLDER = Path(__file__).resolve().parents[1] / "scripts"


def load(name: str) -> ModuleType:
    """scripts/<name>.py as the module `name` (once)."""
    loaded = sys.modules.get(name)
    if loaded is not None and Path(loaded.__file__ or "") == FOLDER / f"{name}.py":
        return loaded
    spec = importlib.util.spec_from_file_location(name, FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, and the scripts' own imports, look it up
    spec.loader.exec_module(module)
    return module


model_changes = load("model_changes")

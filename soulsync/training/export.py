"""Export the trained model: the Keras file, its Lite twin, the parity check, the weights'
checksum, and the version, derived from what determines the model."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import tempfile
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from soulsync.inference.backends import LiteBackend
from soulsync.inference.card import Parity, Provenance

#: The Lite model must give the Keras model's probability on every row to within this.
PARITY_TOLERANCE = 1e-5


def to_tflite(model: keras.Model) -> bytes:
    """The model as a float32 TensorFlow Lite flatbuffer (no quantization: parity matters)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the SavedModel it stages
        return converter.convert()


#: The code that determines a model and its card: every module of the training package (a new
#: stage counts without being listed) and every module of the project they import, however
#: deeply (the questionnaire it encodes, the decision rule, the card's types and figures, the
#: drift reference's bins), found by reading their imports rather than kept as a list.
TRAINING_PACKAGE = Path(__file__).resolve().parent
PROJECT = TRAINING_PACKAGE.parent


def _module_file(name: str) -> Path | None:
    """The file of project module `name` (soulsync.x.y), if it is one. The project's own
    `__init__` holds only the service's version, which does not determine a model."""
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
            for end in range(1, len(parts) + 1):  # a module's packages run too
                if (file := _module_file(".".join(parts[:end]))) is not None:
                    found.add(file)
    return found


def code_files() -> list[Path]:
    files: set[Path] = set()
    pending = set(TRAINING_PACKAGE.glob("*.py"))
    while pending:
        path = pending.pop()
        files.add(path)
        pending |= _imported(path) - files
    return sorted(files)


def code_sha256() -> str:
    digest = hashlib.sha256()
    for path in code_files():
        name = path.relative_to(PROJECT).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: The libraries whose versions determine the weights.
TRAINING_LIBRARIES = ("tensorflow", "keras", "numpy", "scikit-learn")


def provenance(data_sha256: list[str], configuration: dict[str, Any]) -> Provenance:
    return Provenance(
        data_sha256=data_sha256,
        code_sha256=code_sha256(),
        libraries={name: metadata.version(name) for name in TRAINING_LIBRARIES},
        configuration=configuration,
    )


def model_version(source: Provenance) -> str:
    """A short hash of what determines the model (data, code, libraries, configuration), not of
    the weights: a retrain on another machine can differ in the weights' last bit and is still
    the same model."""
    text = json.dumps(asdict(source), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def weights_sha256(model: keras.Model) -> str:
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight, dtype=np.float32).tobytes())
    return digest.hexdigest()


def parity(keras_path: Path, tflite_path: Path, answers: np.ndarray) -> Parity:
    """Largest difference between the saved Keras and Lite models over `answers`.

    Both files are read back from disk, so this checks what ships, not what is in memory.
    """
    reloaded = keras.models.load_model(keras_path, compile=False)
    rows = answers.astype(np.float32)
    from_keras = np.asarray(reloaded(rows, training=False)).reshape(-1)
    from_lite = LiteBackend(tflite_path).predict(rows)
    return Parity(
        rows=len(rows),
        max_abs_diff=float(np.max(np.abs(from_keras - from_lite))),
        tolerance=PARITY_TOLERANCE,
    )


def save_artifacts(model: keras.Model, out_dir: Path, keras_name: str, tflite_name: str) -> None:
    """Write the Keras file and the Lite flatbuffer atomically enough for a build directory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / keras_name
        model.save(staged)
        staged.replace(out_dir / keras_name)
    (out_dir / tflite_name).write_bytes(to_tflite(model))

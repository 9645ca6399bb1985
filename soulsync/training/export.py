"""Export the trained model: the Keras file, its Lite twin, the parity check, the weights'
checksum, and the version, derived from what determines the model."""

from __future__ import annotations

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

from soulsync.analysis import versions
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
#: stage counts without being listed) and every project module they import, however deeply.
TRAINING_PACKAGE = Path(__file__).resolve().parent


def code_sha256() -> str:
    return versions.code_sha256(TRAINING_PACKAGE)


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

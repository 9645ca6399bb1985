"""Export the trained model: the Keras file, its Lite twin, the parity check, the weights'
checksum, and the version, derived from what determines the model."""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import asdict
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
        libraries=versions.library_versions(TRAINING_LIBRARIES),
        configuration=configuration,
    )


def model_version(source: Provenance) -> str:
    """The model's version: what determines it (data, code, libraries, configuration)."""
    return versions.artifact_version(asdict(source))


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


def save_artifacts(model: keras.Model, folder: Path, keras_name: str, tflite_name: str) -> None:
    """Write the Keras file and the Lite flatbuffer into a model folder being staged."""
    model.save(folder / keras_name)
    (folder / tflite_name).write_bytes(to_tflite(model))

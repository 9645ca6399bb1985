"""Export the trained model: the Keras file, its Lite twin, the parity check and the version."""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from soulsync.inference.backends import LiteBackend

#: The Lite model must give the Keras model's probability on every row to within this.
PARITY_TOLERANCE = 1e-5


def to_tflite(model: keras.Model) -> bytes:
    """The model as a float32 TensorFlow Lite flatbuffer (no quantization: parity matters)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the SavedModel it stages
        return converter.convert()


def model_version(model: keras.Model, data_hashes: list[str]) -> str:
    """A short hash of the training data and the weights: same data and seed, same version."""
    digest = hashlib.sha256()
    for data_hash in data_hashes:
        digest.update(data_hash.encode())
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight, dtype=np.float32).tobytes())
    return digest.hexdigest()[:12]


def parity(keras_path: Path, tflite_path: Path, answers: np.ndarray) -> dict[str, float | int]:
    """Largest difference between the saved Keras and Lite models over `answers`.

    Both files are read back from disk, so this checks what ships, not what is in memory.
    """
    reloaded = keras.models.load_model(keras_path, compile=False)
    rows = answers.astype(np.float32)
    from_keras = np.asarray(reloaded(rows, training=False)).reshape(-1)
    from_lite = LiteBackend(tflite_path).predict(rows)
    return {"rows": len(rows), "max_abs_diff": float(np.max(np.abs(from_keras - from_lite)))}


def save_artifacts(model: keras.Model, out_dir: Path, keras_name: str, tflite_name: str) -> None:
    """Write the Keras file and the Lite flatbuffer atomically enough for a build directory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / keras_name
        model.save(staged)
        staged.replace(out_dir / keras_name)
    (out_dir / tflite_name).write_bytes(to_tflite(model))

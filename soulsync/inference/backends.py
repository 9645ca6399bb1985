"""Model runtimes behind one small interface: raw answers in, probabilities out.

Two backends: TensorFlow Lite through the `ai-edge-litert` runtime (the default; no TensorFlow
in the process) for `.tflite` files, and Keras for `.keras` and legacy `.h5` files (needs the
`train` extra). Both check the model's input and output shapes when they load, so a wrong file
stops start-up instead of failing the first request.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from soulsync.questionnaire import KEYS

N_INPUTS = len(KEYS)
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
LITE_SUFFIXES = (".tflite",)


class ModelLoadError(RuntimeError):
    """A model file that cannot be served; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"cannot load model {path}: {problem}")


class Backend(Protocol):
    """What the predictor needs from a runtime."""

    name: str
    path: Path

    def predict(self, answers: np.ndarray) -> np.ndarray:
        """Probabilities, shape (n,), for raw answers of shape (n, 10)."""
        ...


def _check_output_shape(path: Path, shape: tuple[int | None, ...]) -> None:
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise ModelLoadError(path, f"output shape {list(shape)} is not one probability per row")


class LiteBackend:
    """A `.tflite` flatbuffer run by the LiteRT interpreter.

    The interpreter is not thread-safe (no call on it may overlap `invoke()`), so every use holds
    one lock; the work done under it is a few microseconds per row.
    """

    name = "tflite"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            content = path.read_bytes()
        except OSError as error:
            raise ModelLoadError(path, error.strerror or str(error)) from error
        try:
            # The default delegate (XNNPACK) re-plans at every resize and buys nothing for a
            # network this small; the builtin kernels alone are faster here.
            self._interpreter = Interpreter(
                model_content=content,
                num_threads=1,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelLoadError(path, "not a valid TensorFlow Lite model") from error
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelLoadError(
                path, f"has {len(inputs)} inputs and {len(outputs)} outputs, expected 1 and 1"
            )
        in_shape = tuple(int(d) for d in inputs[0]["shape_signature"])
        if len(in_shape) != 2 or in_shape[1] != N_INPUTS:
            raise ModelLoadError(
                path, f"input shape {list(in_shape)} does not take {N_INPUTS} answers per row"
            )
        if inputs[0]["dtype"] != np.float32:
            raise ModelLoadError(path, f"input type {inputs[0]['dtype'].__name__}, not float32")
        _check_output_shape(path, tuple(int(d) for d in outputs[0]["shape_signature"]))
        self._input = inputs[0]["index"]
        self._output = outputs[0]["index"]
        self._rows = int(inputs[0]["shape"][0])
        self._lock = threading.Lock()

    def predict(self, answers: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(answers, dtype=np.float32)
        with self._lock:
            if rows.shape[0] != self._rows:
                self._interpreter.resize_tensor_input(self._input, list(rows.shape))
                self._interpreter.allocate_tensors()
                self._rows = rows.shape[0]
            self._interpreter.set_tensor(self._input, rows)
            self._interpreter.invoke()
            result = self._interpreter.get_tensor(self._output)
        return result.reshape(-1).astype(np.float64)


class KerasBackend:
    """A Keras model file (`.keras`, or a legacy `.h5` such as the old service's)."""

    name = "keras"

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ModelLoadError(path, "no such file")
        try:
            # Imported here, not at the top: Keras comes with TensorFlow (the optional `train`
            # extra; 3 s and 600 MB), which the default LiteRT service never loads.
            import keras
        except ImportError as error:
            raise ModelLoadError(
                path, "Keras models need the training extra: pip install 'soulsync[train]'"
            ) from error
        try:
            self._model = keras.models.load_model(path, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            problem = f"not a loadable Keras model ({type(error).__name__})"
            raise ModelLoadError(path, problem) from error
        if len(self._model.inputs) != 1 or len(self._model.outputs) != 1:
            raise ModelLoadError(path, "expected exactly one input and one output")
        in_shape = tuple(self._model.inputs[0].shape)
        # The old model fed the ten answers to a SimpleRNN as (n, 10, 1) or (n, 1, 10): any
        # shape holding ten values per row is accepted and the rows are reshaped to it.
        row_shape = in_shape[1:]
        if None in row_shape or math.prod(row_shape) != N_INPUTS:
            raise ModelLoadError(
                path, f"input shape {list(in_shape)} does not take {N_INPUTS} answers per row"
            )
        _check_output_shape(path, tuple(self._model.outputs[0].shape))
        self._row_shape = tuple(int(d) for d in row_shape)
        self._lock = threading.Lock()

    def predict(self, answers: np.ndarray) -> np.ndarray:
        rows = np.asarray(answers, dtype=np.float32).reshape((-1, *self._row_shape))
        with self._lock:
            result = self._model(rows, training=False)
        return np.asarray(result).reshape(-1).astype(np.float64)


def load_backend(path: Path) -> Backend:
    """The backend for a model file, chosen by its suffix."""
    suffix = path.suffix.lower()
    if suffix in LITE_SUFFIXES:
        if not path.is_file():
            raise ModelLoadError(path, "no such file")
        return LiteBackend(path)
    if suffix in KERAS_SUFFIXES:
        return KerasBackend(path)
    allowed = ", ".join(LITE_SUFFIXES + KERAS_SUFFIXES)
    raise ModelLoadError(path, f"unknown model format {suffix or '(no suffix)'!r} (use {allowed})")

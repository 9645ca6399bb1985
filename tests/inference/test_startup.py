"""Model files that cannot be served stop start-up with one clear message; the old service's
legacy .h5 (a SimpleRNN) can still be served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soulsync.api.state import EXTENSION
from soulsync.app import create_app
from soulsync.inference.backends import ModelLoadError
from soulsync.inference.model_folder import SHIPPED_MODEL_DIR, TFLITE_FILE
from soulsync.questionnaire import CONTRACT_EXAMPLE
from tests.support.processes import import_wsgi


def _start(path: Path) -> str:
    with pytest.raises(ModelLoadError) as caught:
        create_app({"MODEL_PATH": str(path)})
    return str(caught.value)


def test_missing_model(tmp_path: Path) -> None:
    path = tmp_path / "absent.tflite"
    assert _start(path) == f"cannot load model {path}: no such file"


def test_garbage_model(tmp_path: Path) -> None:
    path = tmp_path / "garbage.tflite"
    path.write_bytes(b"this is not a flatbuffer" * 10)
    assert _start(path) == f"cannot load model {path}: not a valid TensorFlow Lite model"


def test_truncated_model(tmp_path: Path) -> None:
    path = tmp_path / "truncated.tflite"
    path.write_bytes((SHIPPED_MODEL_DIR / TFLITE_FILE).read_bytes()[:1500])
    assert _start(path) == f"cannot load model {path}: not a valid TensorFlow Lite model"


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"x")
    assert "unknown model format '.onnx'" in _start(path)


def test_unreadable_keras_file(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    path = tmp_path / "broken.keras"
    path.write_bytes(b"PK not really a zip")
    assert _start(path).startswith(f"cannot load model {path}: not a loadable Keras model")


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real models of the shapes that matter, saved through Keras itself."""
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("keras-models")
    keras.utils.set_random_seed(1)
    paths = {}

    legacy = keras.Sequential(
        [
            keras.Input(shape=(10, 1)),
            keras.layers.SimpleRNN(4),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    paths["legacy"] = folder / "old_soulsync.h5"
    legacy.save(paths["legacy"])

    narrow = keras.Sequential([keras.Input(shape=(7,)), keras.layers.Dense(1, "sigmoid")])
    paths["narrow_keras"] = folder / "narrow.keras"
    narrow.save(paths["narrow_keras"])
    paths["narrow_tflite"] = folder / "narrow.tflite"
    paths["narrow_tflite"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(narrow).convert())

    wide_out = keras.Sequential([keras.Input(shape=(10,)), keras.layers.Dense(3, "softmax")])
    paths["two_outputs"] = folder / "three_classes.tflite"
    paths["two_outputs"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(wide_out).convert())
    return paths


def test_wrong_input_shape(keras_models: dict[str, Path]) -> None:
    for name in ("narrow_keras", "narrow_tflite"):
        path = keras_models[name]
        assert "does not take 10 answers per row" in _start(path), name


def test_wrong_output_shape(keras_models: dict[str, Path]) -> None:
    path = keras_models["two_outputs"]
    assert _start(path) == (
        f"cannot load model {path}: output shape [-1, 3] is not one probability per row"
    )


def test_legacy_h5_with_a_simple_rnn_is_served(keras_models: dict[str, Path]) -> None:
    path = keras_models["legacy"]
    app = create_app({"TESTING": True, "MODEL_PATH": str(path)})
    screener = app.extensions[EXTENSION].screener
    assert screener.backend_name == "keras"
    assert {rule.threshold for rule in screener.rules.values()} == {0.5}
    assert screener.version.startswith("file-")
    reply = app.test_client().post("/predict", json=CONTRACT_EXAMPLE).get_json()
    assert reply["message"] == "Prediction successful"
    expected = float(
        np.asarray(
            screener.predictor.backend._model(
                np.array([list(CONTRACT_EXAMPLE.values())], dtype=np.float32).reshape(1, 10, 1)
            )
        )[0, 0]
    )
    assert reply["probability"] == pytest.approx(expected, abs=1e-6)
    card = app.test_client().get("/model").get_json()
    assert "no model card" in card["limitations"][0]


def test_wsgi_refuses_to_start_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.tflite"
    result = import_wsgi(SOULSYNC_MODEL_PATH=str(path))
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"soulsync: cannot load model {path}: no such file"
    ]


def test_wsgi_refuses_a_bad_setting_with_one_clear_line() -> None:
    result = import_wsgi(SOULSYNC_BATCH_LIMIT="lots")
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("soulsync: SOULSYNC_BATCH_LIMIT: ")

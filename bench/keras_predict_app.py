"""The old service's way of serving, as a reference point: Keras `model.predict` on each
request (on the shipped .keras model), under the same gunicorn settings."""

import os

import numpy as np
from flask import Flask, request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

from soulsync.inference.model_folder import KERAS_FILE, SHIPPED_MODEL_DIR
from soulsync.questionnaire import KEYS

model = keras.models.load_model(SHIPPED_MODEL_DIR / KERAS_FILE, compile=False)
app = Flask(__name__)


@app.post("/predict")
def predict() -> dict:
    answers = request.get_json()
    row = np.array([[answers[key] for key in KEYS]], dtype=np.float32)
    probability = float(model.predict(row, verbose=0)[0, 0])
    return {
        "message": "Prediction successful",
        "result": "Depression" if probability >= 0.5 else "No Depression",
    }


@app.get("/readyz")
def ready() -> dict:
    return {"status": "ready"}

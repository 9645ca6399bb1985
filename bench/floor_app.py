"""The floor: the least a Flask service on this machine can do for the same request, parse
the same JSON and return a constant, under the same gunicorn settings as the service."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/predict")
def predict() -> dict:
    request.get_json()
    return {"message": "Prediction successful", "result": "No Depression"}


@app.get("/readyz")
def ready() -> dict:
    return {"status": "ready"}

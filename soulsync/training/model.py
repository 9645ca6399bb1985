"""The candidate Keras models: the same input encoding, a linear head or a small network.

The encoding is part of the graph, so the exported model takes the ten raw wire codes (float32,
questionnaire order) and neither the service nor a client ever preprocesses: nominal questions
with more than two options are one-hot encoded, yes/no questions pass through as 0/1 and scales
are mapped onto [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
from keras import layers, ops

from soulsync.questionnaire import QUESTIONS, Kind, Question

INPUT_NAME = "answers"


@dataclass(frozen=True)
class Candidate:
    """One model family with the settings it is trained with."""

    name: str
    description: str
    hidden_units: tuple[int, ...]
    learning_rate: float
    epochs: int
    l2: float
    batch_size: int = 64


LINEAR = Candidate(
    name="linear",
    description="logistic regression: one sigmoid unit on the encoded answers",
    hidden_units=(),
    learning_rate=0.02,
    epochs=60,
    l2=1e-4,
)
NETWORK = Candidate(
    name="network",
    description="small network: dense 32-16 (ReLU, L2) then one sigmoid unit",
    hidden_units=(32, 16),
    learning_rate=0.003,
    epochs=60,
    l2=1e-3,
)
CANDIDATES: tuple[Candidate, ...] = (LINEAR, NETWORK)


def encoding_of(question: Question) -> str:
    """How the graph represents a question: 'one_hot', 'binary' or 'scaled'."""
    if question.kind is Kind.SCALE:
        return "scaled"
    return "one_hot" if len(question.options) > 2 else "binary"


def encode(answers: keras.KerasTensor) -> keras.KerasTensor:
    """Turn the (n, 10) raw codes into the model's features, inside the graph."""
    features = []
    for column, question in enumerate(QUESTIONS):
        value = answers[:, column : column + 1]
        kind = encoding_of(question)
        if kind == "one_hot":
            # Codes are 0..k-1 (checked by the tests), so they index the one-hot directly.
            codes = ops.cast(answers[:, column], "int32")
            features.append(ops.one_hot(codes, len(question.options)))
        elif kind == "scaled":
            span = float(question.max_code - question.min_code)
            features.append((value - float(question.min_code)) / span)
        else:
            features.append(value)
    return ops.concatenate(features, axis=1)


def build(candidate: Candidate, positive_rate: float) -> keras.Model:
    """A fresh, compiled model whose output starts at the base rate of the training labels.

    Starting the output bias at the log-odds of the base rate is how this pipeline meets the
    class imbalance: the loss stays the plain (unweighted) log loss, so the probabilities stay
    calibrated, and the decision threshold, not a re-weighting, trades recall for precision.
    """
    regularizer = keras.regularizers.L2(candidate.l2)
    answers = keras.Input(shape=(len(QUESTIONS),), name=INPUT_NAME, dtype="float32")
    hidden = encode(answers)
    for units in candidate.hidden_units:
        hidden = layers.Dense(units, activation="relu", kernel_regularizer=regularizer)(hidden)
    prior_logit = math.log(positive_rate / (1.0 - positive_rate))
    probability = layers.Dense(
        1,
        activation="sigmoid",
        kernel_regularizer=regularizer,
        bias_initializer=keras.initializers.Constant(prior_logit),
        name="probability",
    )(hidden)
    model = keras.Model(answers, probability, name=f"soulsync_{candidate.name}")
    model.compile(
        optimizer=keras.optimizers.Adam(candidate.learning_rate),
        loss="binary_crossentropy",
    )
    return model

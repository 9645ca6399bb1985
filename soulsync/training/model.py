"""The candidate Keras models. Every one takes the ten raw wire codes (float32, questionnaire
order) and encodes them inside the graph, so neither the service nor a client ever
preprocesses: nominal questions with more than two options are one-hot encoded, yes/no questions
pass through as 0/1 and scales are mapped onto [0, 1].

Students and working professionals answer on the same scales but their answers weigh very
differently in the survey (its students' log-odds move two to three times as much per answer)
and their base rates differ fivefold, so besides a plain linear model and a small network there
are candidates that let the groups differ beyond an intercept: one shared score with a slope and
an intercept per group (`group_scale`), the same with the students' own slope shrunk toward the
professionals' (`shrunk_*`: how far a population shift undoes the students' steeper slope is
what the stress test judges), and every answer interacting with the group (`interactions`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import keras
import numpy as np
from keras import layers, ops

from soulsync.analysis import logistic
from soulsync.question import Kind, Question
from soulsync.questionnaire import GROUP_COLUMN, GROUP_KEY, QUESTIONS, STUDENT

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
    #: A shrunk `group_scale`: the share of the students' own slope kept after the fit (0: the
    #: professionals' slope, 1: their own). None for every other candidate.
    student_slope_kept: float | None = None


LINEAR = Candidate(
    name="linear",
    description="logistic regression: one sigmoid unit on the encoded answers",
    hidden_units=(),
    learning_rate=0.02,
    epochs=60,
    l2=1e-4,
)
GROUP_SCALE = Candidate(
    name="group_scale",
    description="one linear score of the answers, with its own slope and intercept for each "
    "group (students, professionals)",
    hidden_units=(),
    learning_rate=0.02,
    epochs=60,
    l2=1e-4,
)
#: How much of the students' own slope the shrunk candidates keep.
SHRINKAGES = (0.0, 0.25, 0.5, 0.75)
SHRUNK = tuple(
    replace(
        GROUP_SCALE,
        name=f"shrunk_{round(kept * 100)}",
        description=f"group_scale with the students' own slope shrunk toward the "
        f"professionals': {kept:.0%} of the difference kept, the students' intercept re-fitted",
        student_slope_kept=kept,
    )
    for kept in SHRINKAGES
)
INTERACTIONS = Candidate(
    name="interactions",
    description="logistic regression on the encoded answers and on each answer times the group",
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
#: From the simplest to the most complex (the students' slope let in step by step): a later one
#: ships only if it is clearly better.
CANDIDATES: tuple[Candidate, ...] = (LINEAR, *SHRUNK, GROUP_SCALE, INTERACTIONS, NETWORK)


def trained_as(candidate: Candidate) -> Candidate:
    """The candidate whose Keras fit this one is: a shrunk candidate is a fitted group_scale,
    shrunk afterwards (shrink_student_slope)."""
    return GROUP_SCALE if candidate.student_slope_kept is not None else candidate


def encoding_of(question: Question) -> str:
    """How the graph represents a question: 'one_hot', 'binary' or 'scaled'."""
    if question.kind is Kind.SCALE:
        return "scaled"
    return "one_hot" if len(question.options) > 2 else "binary"


def encode(answers: keras.KerasTensor, without: str | None = None) -> keras.KerasTensor:
    """Turn the (n, 10) raw codes into the model's features, inside the graph (all questions,
    or all but `without`)."""
    features = []
    for column, question in enumerate(QUESTIONS):
        if question.key == without:
            continue
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


def _logit(rate: float) -> float:
    return math.log(rate / (1.0 - rate))


def build(candidate: Candidate, labels: np.ndarray, groups: np.ndarray) -> keras.Model:
    """A fresh, compiled model whose output starts at the base rate of the training labels
    (of each group's, where the candidate has an intercept per group).

    Starting the output at the base rate is how this pipeline meets the class imbalance: the
    loss stays the plain (unweighted) log loss, so the probabilities stay calibrated, and the
    decision threshold, not a re-weighting, trades recall for precision.
    """
    regularizer = keras.regularizers.L2(candidate.l2)
    answers = keras.Input(shape=(len(QUESTIONS),), name=INPUT_NAME, dtype="float32")
    professional = answers[:, GROUP_COLUMN : GROUP_COLUMN + 1]  # the code: 1 professional
    base_logit = _logit(float(labels.mean()))
    kernel_start: keras.initializers.Initializer = keras.initializers.GlorotUniform()

    if candidate is GROUP_SCALE:
        # logit = b + c1 z for professionals, (b + c3) + (c1 + c2) z for students.
        student = 1.0 - professional
        score = layers.Dense(1, use_bias=False, kernel_regularizer=regularizer, name="score")(
            encode(answers, without=GROUP_KEY)
        )
        hidden = ops.concatenate([score, score * student, student], axis=1)
        student_logit = _logit(float(labels[groups == STUDENT].mean()))
        base_logit = _logit(float(labels[groups != STUDENT].mean()))
        kernel_start = keras.initializers.Constant([[1.0], [1.0], [student_logit - base_logit]])
    elif candidate is INTERACTIONS:
        others = encode(answers, without=GROUP_KEY)
        hidden = ops.concatenate([encode(answers), others * professional], axis=1)
    else:
        hidden = encode(answers)
        for units in candidate.hidden_units:
            hidden = layers.Dense(units, activation="relu", kernel_regularizer=regularizer)(hidden)

    probability = layers.Dense(
        1,
        activation="sigmoid",
        kernel_regularizer=regularizer,
        kernel_initializer=kernel_start,
        bias_initializer=keras.initializers.Constant(base_logit),
        name="probability",
    )(hidden)
    model = keras.Model(answers, probability, name=f"soulsync_{candidate.name}")
    model.compile(
        optimizer=keras.optimizers.Adam(candidate.learning_rate),
        loss="binary_crossentropy",
    )
    return model


def shrink_student_slope(
    model: keras.Model,
    kept: float,
    answers: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
) -> keras.Model:
    """A copy of a fitted group_scale model whose students keep `kept` of their own slope's
    difference from the professionals' slope; the students' intercept is re-fitted by maximum
    likelihood on the rows given (so their mean probability is still their observed rate)."""
    kernel, bias = model.get_layer("probability").get_weights()
    shared, extra = float(kernel[0, 0]), float(kernel[1, 0])  # see build: score, score * student
    students = groups == STUDENT
    score = keras.Model(model.input, model.get_layer("score").output)
    scored = np.asarray(score(answers[students].astype(np.float32), training=False)).reshape(-1)
    slope = shared + kept * extra
    intercept = logistic.intercept_for_rate(slope * scored, float(labels[students].mean()))
    shrunk = keras.models.clone_model(model)
    shrunk.set_weights(model.get_weights())
    new_kernel = np.array([[shared], [kept * extra], [intercept - float(bias[0])]], np.float32)
    shrunk.get_layer("probability").set_weights([new_kernel, bias])
    return shrunk

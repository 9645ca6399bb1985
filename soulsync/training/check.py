"""Retrain and compare with the shipped model: the shipped artifacts must be what the training
command makes of the data, here and on any machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from soulsync.inference.backends import LiteBackend
from soulsync.inference.decision import flag
from soulsync.inference.model_folder import TFLITE_FILE, read_card
from soulsync.questionnaire import GROUPS
from soulsync.training.data import load_dataset
from soulsync.training.export import PARITY_TOLERANCE
from soulsync.training.pipeline import run
from soulsync.training.stages import Progress


def check_shipped(data_dir: Path, shipped_dir: Path, progress: Progress = print) -> list[str]:
    """Retrain on `data_dir` into a temporary folder; the problems found (none: it matches).

    The version must be the same (it is derived from the data, code, libraries and settings);
    the weights may differ in the last bit from one machine to another, so what must hold for
    them is that both models give the same probabilities (within the Lite/Keras parity
    tolerance) and the same results on every row of the data.
    """
    shipped = read_card(shipped_dir / TFLITE_FILE)
    with tempfile.TemporaryDirectory(prefix="soulsync-retrain-") as scratch:
        card = run(data_dir, Path(scratch), progress=progress)
        data = load_dataset(data_dir)
        again = LiteBackend(Path(scratch) / TFLITE_FILE).predict(data.answers)
    first = LiteBackend(shipped_dir / TFLITE_FILE).predict(data.answers)
    problems = []
    if card.version != shipped.version:
        problems.append(f"version {card.version}, shipped {shipped.version}")
    difference = float(np.max(np.abs(again - first)))
    if difference > PARITY_TOLERANCE:
        problems.append(f"probabilities differ by up to {difference:.2e} (> {PARITY_TOLERANCE})")
    rules = card.decision.rules()
    changed = flag(first, data.groups, shipped.rules) != flag(again, data.groups, rules)
    for code, name in GROUPS.items():
        if (count := int(changed[data.groups == code].sum())) > 0:
            problems.append(f"{count} {name} get another result")
    same_weights = (
        shipped.model_card is not None and shipped.model_card.weights_sha256 == card.weights_sha256
    )
    progress(
        f"retrained model {card.version} against shipped {shipped.version}: probabilities "
        f"within {difference:.2e}, weights {'identical' if same_weights else 'not identical'}"
    )
    return problems

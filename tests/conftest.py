"""Shared fixtures. The suite stands on the repository alone: the contract with the old clients,
a small survey in the Kaggle files' format and an older model build are fixtures under
tests/fixtures/; training tests train a real model on that survey through the real pipeline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from generators import NODE_EXAMPLE
from soulsync.api.state import EXTENSION
from soulsync.app import create_app
from soulsync.inference.card import ModelCard
from soulsync.inference.model_folder import SHIPPED_MODEL_DIR, TFLITE_FILE, read_card, write_card
from soulsync.inference.screening import Screener

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def contract() -> dict:
    """The wire contract with the old clients (tests/fixtures/contract.json): keys, codes,
    example, replies."""
    return json.loads((FIXTURES / "contract.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def survey_dir() -> Path:
    """Both survey files, generated (tests/support/survey.py), in the real files' exact format."""
    return FIXTURES / "survey"


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, survey_dir: Path) -> tuple[Path, ModelCard]:
    """A model trained end to end on the fixture survey: (artifact folder, card). 30 epochs, so
    that even this small survey gives a model whose every risk band can be reached."""
    pytest.importorskip("tensorflow", reason="training needs the 'train' extra")
    from soulsync.training.pipeline import run

    out = tmp_path_factory.mktemp("model")
    card = run(survey_dir, out, epochs=30, progress=lambda line: None)
    return out, card


@pytest.fixture
def app():
    """The real app, serving the shipped model (pytest-flask builds `client` from it)."""
    return create_app({"TESTING": True})


@pytest.fixture
def screener(app) -> Screener:
    """The app's screener (model, card and decision rules)."""
    return app.extensions[EXTENSION].screener


@pytest.fixture
def app_deciding_at(tmp_path: Path) -> Callable[[float], Flask]:
    """An app serving the shipped model from a folder of its own whose card puts every group's
    threshold at the given probability (the bands from there): a model folder like any other,
    so that a test can choose the result without touching the app."""

    def build(threshold: float) -> Flask:
        folder = tmp_path / f"deciding-at-{threshold}"
        folder.mkdir()
        shutil.copy(SHIPPED_MODEL_DIR / TFLITE_FILE, folder)
        card = read_card(SHIPPED_MODEL_DIR / TFLITE_FILE).model_card
        assert card is not None
        bands = (max(threshold, 0.5), max(threshold, 0.8))
        groups = {
            name: replace(group, threshold=threshold, band_starts=bands)
            for name, group in card.decision.groups.items()
        }
        write_card(replace(card, decision=replace(card.decision, groups=groups)), folder)
        return create_app({"TESTING": True, "MODEL_PATH": str(folder / TFLITE_FILE)})

    return build


@pytest.fixture(scope="session")
def npm_installed() -> Path:
    """node, and the Node example's packages as package-lock.json pins them (`npm ci`, from the
    npm registry, only when node_modules is missing or older than the lock). Skipped where node
    is missing, saying so; CI sets SOULSYNC_NODE_REQUIRED (.ci/run), and there it fails."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = "node" if node is None else "npm"
        if os.environ.get("SOULSYNC_NODE_REQUIRED"):
            pytest.fail(f"{missing} is missing, and CI must run the Node example (.ci/run)")
        pytest.skip(f"{missing} is not installed: the Node example (examples/node) is not run")
    installed = NODE_EXAMPLE / "node_modules" / ".package-lock.json"
    lock = NODE_EXAMPLE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_EXAMPLE,
            check=True,
            timeout=600,
        )
    return NODE_EXAMPLE

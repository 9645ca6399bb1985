"""Shared fixtures: the real data and contract when present, and a model trained on a small
generated survey through the real pipeline (so tests exercise real model files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.survey import write_survey

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is not beside the checkout ({SHARED})")
    return SHARED


@pytest.fixture(scope="session")
def survey_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_survey(tmp_path_factory.mktemp("survey"))


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, survey_dir: Path) -> tuple[Path, dict]:
    """A model trained end to end on the generated survey: (artifact folder, card)."""
    pytest.importorskip("tensorflow", reason="training needs the 'train' extra")
    from soulsync.training.train import run

    out = tmp_path_factory.mktemp("model")
    card = run(survey_dir, out, epochs=3, progress=lambda line: None)
    return out, card


@pytest.fixture
def app():
    """The real app, serving the shipped model (pytest-flask builds `client` from it)."""
    from soulsync import create_app

    return create_app({"TESTING": True})

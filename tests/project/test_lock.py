"""The locks in requirements/: made from this pyproject.toml, every pin exact and hashed, the
service's versions the tested ones, and this environment exactly what they pin."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from generators import lock

ROOT = Path(__file__).resolve().parents[2]

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCKS = {path.name: path for path in lock.LOCKS}


def applies(marker: str | None) -> bool:
    return marker is None or Marker(marker).evaluate()


def locked(name: str) -> dict[str, str]:
    """{normalized name: version} of the lock's pins that apply to this environment."""
    return {pin: version for pin, version, marker in lock.pins(LOCKS[name]) if applies(marker)}


def test_the_digest_follows_the_declarations_only(tmp_path: Path) -> None:
    """A new dependency makes the locks stale; a change to anything else in pyproject.toml does
    not. (What the engineer who adds a dependency sees: tests/project/test_generated.py fails, `make
    lock`.)"""
    (tmp_path / "requirements").mkdir()
    for name in ("build.in", "constraints.in"):
        shutil.copy(ROOT / "requirements" / name, tmp_path / "requirements" / name)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")

    def digest(pyproject: str) -> str:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        return lock.inputs_digest(tmp_path)

    assert digest(text) == lock.inputs_digest()
    assert digest(text.replace('version = "1.0.0"', 'version = "1.0.1"')) == lock.inputs_digest()
    assert digest(text.replace('"gunicorn>=23",', '"gunicorn>=23",\n    "orjson>=3",')) != (
        lock.inputs_digest()
    )
    assert digest(text.replace('"ruff>=0.6",', '"ruff>=0.7",')) != lock.inputs_digest()


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_pin_is_exact_and_hashed(name: str) -> None:
    lines = LOCKS[name].read_text(encoding="utf-8").splitlines()
    pins = [i for i, line in enumerate(lines) if line[:1] not in ("", " ", "#")]
    assert len(pins) == len(lock.pins(LOCKS[name])) > 0  # pins() refuses anything but name==v
    for i in pins:
        assert lines[i].endswith("\\") and lines[i + 1].startswith("    --hash=sha256:"), lines[i]


def test_the_service_runs_the_versions_the_tests_ran() -> None:
    # By name and version: a package's environment marker may differ between the locks (one
    # lock needs it everywhere, the other only where its dependant does).
    develop = {(name, version) for name, version, _ in lock.pins(LOCKS["develop.txt"])}
    for name, version, _ in [*lock.pins(LOCKS["serving.txt"]), *lock.pins(LOCKS["build.txt"])]:
        if name != "pip":  # the installer itself, in build.txt alone
            assert (name, version) in develop, (name, version)


def test_the_serving_lock_holds_no_training_or_test_tools() -> None:
    serving = {name for name, _, _ in lock.pins(LOCKS["serving.txt"])}
    assert serving.isdisjoint({"tensorflow", "keras", "scikit-learn", "pytest", "ruff"})


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("serving.txt", PYPROJECT["project"]["dependencies"]),
        (
            "develop.txt",
            [
                *PYPROJECT["project"]["dependencies"],
                *PYPROJECT["project"]["optional-dependencies"]["train"],
                *PYPROJECT["project"]["optional-dependencies"]["test"],
            ],
        ),
        ("build.txt", PYPROJECT["build-system"]["requires"]),
    ],
)
def test_each_lock_satisfies_what_pyproject_declares(name: str, declared: list[str]) -> None:
    pins = locked(name)
    for text in declared:
        requirement = Requirement(text)
        pin = pins.get(lock.normalize(requirement.name))
        assert pin is not None, f"{name} lacks {requirement.name}: {lock.REFRESH}"
        assert requirement.specifier.contains(pin, prereleases=True), (
            f"{name} pins {requirement.name}=={pin}, pyproject.toml asks {text}: {lock.REFRESH}"
        )


def test_this_environment_runs_exactly_the_locked_versions() -> None:
    """What `make test` installed in a fresh clone is what the locks pin, no more and no less of
    anything they name. (Run outside .venv, with other versions, this fails: that is its point.)"""
    pins = {**locked("develop.txt"), **locked("build.txt")}
    installed = {
        lock.normalize(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
    }
    assert {name: installed.get(name) for name in pins} == pins, sys.prefix


def test_compare_names_what_differs(capsys: pytest.CaptureFixture[str]) -> None:
    """The container check's comparison: an image with the lock's set passes and prints its
    digest; a different version, or a package the lock lacks, fails."""
    pins = [
        (name, version) for name, version, marker in lock.pins(LOCKS["serving.txt"]) if not marker
    ]
    freeze = "\n".join(f"{name}=={version}" for name, version in pins) + "\nsoulsync==1.0.0\n"
    assert lock.compare(LOCKS["serving.txt"], freeze) == 0
    assert "exactly as locked" in capsys.readouterr().out
    name, version = pins[0]
    changed = freeze.replace(f"{name}=={version}\n", f"{name}=={version}.post9\n")
    assert lock.compare(LOCKS["serving.txt"], changed + "extra==1\n") == 1
    err = capsys.readouterr().err
    assert f"{name}=={version}.post9 is installed" in err and "extra==1 is installed" in err


def test_the_shipped_model_was_trained_with_the_locked_libraries() -> None:
    """The model's version hashes the training libraries' versions (docs/model.md), so moving
    one of them in the lock means retraining: `make train`, then commit the new model."""
    card = (ROOT / "soulsync" / "model" / "model_card.json").read_text(encoding="utf-8")
    libraries = json.loads(card)["provenance"]["libraries"]
    develop = locked("develop.txt")
    assert {name: develop[name] for name in libraries} == libraries, (
        "the lock moves a library the shipped model was trained with: run `make train` "
        "(docs/dependencies.md)"
    )

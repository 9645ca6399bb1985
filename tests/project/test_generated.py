"""Every generated file is what its generator makes of the code now (generators/, `make
generated`), and the command names each stale file with the target that rewrites it."""

from __future__ import annotations

import pytest

import generators
from generators import GENERATED, Generated

#: The types need node and the Node example's packages: an end-to-end test's fixture.
NEEDS = {"types": "npm_installed"}


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(entry, id=entry.target, marks=[pytest.mark.e2e] * (entry.target in NEEDS))
        for entry in GENERATED
    ],
)
def test_every_generated_file_is_current(entry: Generated, request: pytest.FixtureRequest) -> None:
    if entry.target in NEEDS:
        request.getfixturevalue(NEEDS[entry.target])
    assert list(entry.stale()) == [], f"run `make {entry.target}` and commit the files"


def test_the_check_names_a_stale_file_and_its_target_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = (generators.ROOT / ".env.example").read_bytes()
    changed = Generated("settings", lambda: {".env.example": "# SOULSYNC_NEW=1\n"})
    monkeypatch.setattr(generators, "GENERATED", (changed,))
    assert generators.main(["--check"]) == 1
    assert capsys.readouterr().out == ".env.example is stale: run `make settings`\n"
    assert (generators.ROOT / ".env.example").read_bytes() == committed
    with pytest.raises(SystemExit, match="2"):
        generators.main(["openapi"])  # a target this list lacks
    assert "no generated files for openapi" in capsys.readouterr().err

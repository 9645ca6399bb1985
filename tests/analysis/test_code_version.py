"""The code behind an artifact's version is found from the imports: what a package imports,
however deeply, counts; what it does not (the HTTP layer) does not."""

from __future__ import annotations

from soulsync.analysis.versions import PROJECT, code_files, code_sha256
from soulsync.recalibration.recalibrated_card import PACKAGE


def test_what_recalibration_imports_counts_and_nothing_else() -> None:
    names = {path.relative_to(PROJECT).as_posix() for path in code_files(PACKAGE)}
    assert {"recalibration/__init__.py", "recalibration/report.py"} <= names
    assert {
        "analysis/rule_choice.py",
        "inference/probability_map.py",
        "analysis/evaluation.py",
    } <= names
    assert "inference/predictor.py" in names  # through the screener: imported, never listed
    assert not any(name.startswith(("api/", "training/")) for name in names)
    assert "__init__.py" not in names


def test_the_hash_is_stable_and_depends_on_the_package() -> None:
    assert code_sha256(PACKAGE) == code_sha256(PACKAGE)
    assert code_sha256(PACKAGE) != code_sha256(PROJECT / "monitor")

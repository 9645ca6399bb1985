"""A model folder is written whole or not at all, by training (which replaces the folder) and by
recalibration (which needs a new one) alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from soulsync.inference.model_folder import staged_folder


def test_a_finished_block_replaces_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with staged_folder(out, replace=True) as folder:
        (folder / "new.txt").write_text("new")
        assert (out / "old.txt").is_file()  # nothing moves before the block ends
    assert sorted(path.name for path in out.iterdir()) == ["new.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def test_an_error_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(out, replace=True) as folder:
        (folder / "half.txt").write_text("half")
        raise RuntimeError("export failed")
    assert sorted(path.name for path in out.iterdir()) == ["old.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def test_without_replace_a_folder_with_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    refused = pytest.raises(FileExistsError, match="not an empty folder")
    with refused, staged_folder(tmp_path / "taken", replace=False):
        pass
    (tmp_path / "empty").mkdir()
    with staged_folder(tmp_path / "empty", replace=False) as folder:
        (folder / "card").write_text("{}")
    assert (tmp_path / "empty" / "card").is_file()

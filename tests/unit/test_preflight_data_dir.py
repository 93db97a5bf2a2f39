"""The data-directory check leaves nothing behind, and never fails because another process that
started at the same moment has already put its database in the directory it made."""

from __future__ import annotations

from pathlib import Path

from imprint_sessions.config import Settings
from imprint_sessions.preflight import check_data_dir, remove_made_dirs


def test_a_fresh_nested_data_dir_is_checked_and_nothing_is_left_behind(tmp_path: Path) -> None:
    check_data_dir(Settings(data_dir=tmp_path / "a" / "b" / "data"))
    assert list(tmp_path.iterdir()) == []


def test_a_made_directory_another_process_filled_is_left_with_its_parents(tmp_path: Path) -> None:
    # Regression: eight `serve` started at once on one new data directory; one's probe made the
    # directory, another's setup created its database there, and the first's rmdir raised
    # ENOTEMPTY out of the preflight as a traceback instead of starting.
    data = tmp_path / "parent" / "data"
    data.mkdir(parents=True)
    (data / "imprint.sqlite3").write_bytes(b"")
    remove_made_dirs([data, data.parent])
    assert (data / "imprint.sqlite3").exists()


def test_made_directories_still_empty_are_removed_deepest_first(tmp_path: Path) -> None:
    data = tmp_path / "parent" / "data"
    data.mkdir(parents=True)
    remove_made_dirs([data, data.parent])
    assert list(tmp_path.iterdir()) == []

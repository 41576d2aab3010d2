"""An attempt's home is made while another attempt of the same run may be cleaning up its own
and removing the run's folder of homes, once empty."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.agents import task


def test_a_home_is_made_even_when_the_run_folder_goes_away_between_parent_and_leaf(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = task.homes_dir(tmp_path, "r1")
    home = run_dir / "readme.1"
    real_mkdir = os.mkdir
    removed = []

    def mkdir(path, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(path) == home and not removed:
            # another attempt's cleanup: its home is gone and the folder it left is empty
            os.rmdir(run_dir)
            removed.append(path)
        return real_mkdir(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    task.make_home(str(home))
    assert removed and home.is_dir()
    assert (home.stat().st_mode & 0o777) == 0o700


def test_cleanup_removes_the_home_and_the_run_folder_once_empty(tmp_path: Path) -> None:
    run_dir = task.homes_dir(tmp_path, "r1")
    for name in ("a.1", "b.1"):
        task.make_home(str(run_dir / name))
    task.cleanup(task.Prepared(str(run_dir / "a.1"), str(tmp_path / "p.md")))
    assert run_dir.is_dir() and not (run_dir / "a.1").exists()
    task.cleanup(task.Prepared(str(run_dir / "b.1"), str(tmp_path / "p.md")))
    assert not run_dir.exists()

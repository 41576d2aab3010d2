"""A process that runs for months (``uet serve``, the dashboard hosting runs) keeps no record
of every run it ever ran: the runs whose leftover processes it would claim, and the log folders
it has made, are bounded. (Over thousands of runs, what still grows is SQLite's page cache, up to
its cache_size.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import reaper
from engine.adapters import subprocess as adapter


def test_the_runs_whose_leftovers_are_claimed_are_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reaper, "_runs", {})
    monkeypatch.setattr(reaper, "RECENT_RUNS", 8)
    leader = 4_000_000  # no such process: the tree is only made and closed
    for n in range(20):
        reaper.AttemptTree(leader + n, reaper.attempt_marker(f"r{n}", "a", 1), None).close()
        if n == 15:  # a run that starts another attempt is the newest again
            reaper.AttemptTree(leader, reaper.attempt_marker("r12", "b", 1), None).close()
    assert list(reaper._runs) == ["r13", "r14", "r15", "r12", "r16", "r17", "r18", "r19"]
    assert not any(leader + n in reaper._live for n in range(20))  # each tree let its leader go


def test_log_folders_made_are_remembered_up_to_a_bound(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(adapter, "_made_dirs", set())
    monkeypatch.setattr(adapter, "MADE_DIRS", 4)
    for n in range(11):
        fd = adapter._open_log(str(tmp_path / f"run{n}" / "a.1.log"))
        os.write(fd, b"x")
        os.close(fd)
        assert len(adapter._made_dirs) <= 4
    assert all((tmp_path / f"run{n}" / "a.1.log").read_bytes() == b"x" for n in range(11))

"""``uet gc`` over a long history: the scratch copy of a patch still under review is kept
however many patches came after it, a running run's copies are kept, a folder no run of the
store owns is left alone, and the rest is removed (or listed, with ``--dry-run``)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from store import Store
from tests.conftest import Project

#: More patches than the newest-first list gc once read (100,000): the one under review is older.
DECIDED = 100_001


def _copy(project: Project, run_id: str, name: str) -> Path:
    path = project.root / ".uet" / "worktrees" / run_id / name
    path.mkdir(parents=True)
    (path / "app.py").write_text("print('draft')\n", encoding="utf-8")
    return path


def _history(project: Project) -> dict[str, Path]:
    Store(project.db).close()
    copies = {"review": _copy(project, "old", "edit-1"), "rejected": _copy(project, "old", "edit-2"),
              "no-patch": _copy(project, "new", "lint-1"), "running": _copy(project, "busy", "edit-1"),
              "stranger": _copy(project, "not-a-run", "edit-1")}
    root = str(project.root)
    with closing(sqlite3.connect(project.db)) as conn, conn:
        conn.executemany("INSERT INTO runs (id, workstream, root, state, created_at) VALUES (?, 'w', ?, ?, ?)",
                         [("old", root, "succeeded", 1.0), ("new", root, "failed", 2.0), ("busy", root, "running", 3.0)])
        patch = ("INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, worktree, "
                 "created_at, updated_at) VALUES (?, ?, ?, 1, ?, 'abc', '', '', ?, ?, ?)")
        conn.execute(patch, ("p-review", "old", "edit", "proposed", str(copies["review"]), 10.0, 10.0))
        conn.execute(patch, ("p-rejected", "old", "edit", "rejected", str(copies["rejected"]), 11.0, 11.0))
        conn.executemany(patch, ((f"p{n:06d}", "new", "lint", "rejected", None, 100.0 + n, 100.0 + n)
                                 for n in range(DECIDED)))
    return copies


def test_gc_keeps_a_patch_under_review_however_many_came_after_it(project: Project) -> None:
    copies = _history(project)

    listed = project.uet("gc", "--dry-run", check=True).stdout.splitlines()

    assert listed == [f"would remove {copies['no-patch']}", f"would remove {copies['rejected']}",
                      "2 worktree(s) to remove; 1 kept for patches under review"]
    assert all(path.is_dir() for path in copies.values())

    done = project.uet("gc", check=True).stdout.splitlines()

    assert done[-1] == "2 worktree(s) removed; 1 kept for patches under review"
    assert {name for name, path in copies.items() if path.exists()} == {"review", "running", "stranger"}
    assert not (project.root / ".uet" / "worktrees" / "new").exists()  # its last copy gone, its folder too
    assert (copies["review"] / "app.py").read_text(encoding="utf-8") == "print('draft')\n"

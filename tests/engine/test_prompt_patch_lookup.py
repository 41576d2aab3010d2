"""A prompt that names a patch step's diff (``{steps.edit.patch}``), in a run resumed by another
engine, reads the step's newest patch from the ledger, however many patches the run has: the
engine once read the run's newest 10,000 and found none of a step whose patches were older."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

from engine.run.attempts import Attempts
from store import Store

PATCH = ("INSERT INTO patches (id, run_id, step_id, attempt, state, base_commit, diff, sha256, created_at, updated_at) "
         "VALUES (?, 'r', ?, 1, 'proposed', 'abc', ?, '', ?, ?)")


def test_the_newest_patch_of_the_step_is_found_behind_ten_thousand_others(tmp_path: Path) -> None:
    db = tmp_path / ".uet" / "uet.db"
    with Store(db):
        pass
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT INTO runs (id, workstream, root, state, created_at) VALUES ('r', 'w', '/p', 'running', 1)")
        conn.execute(PATCH, ("p-first", "edit", "first round", 10.0, 10.0))
        conn.execute(PATCH, ("p-second", "edit", "second round", 20.0, 20.0))
        conn.executemany(PATCH, ((f"q{n:05d}", "matrix", "other", 100.0 + n, 100.0 + n) for n in range(10_001)))
    engine = SimpleNamespace(diffs={}, table=SimpleNamespace(run_id="r"))

    with Store(db):
        found = Attempts._diffs(engine, ["edit", "lint"])  # type: ignore[arg-type]

    assert found == {"edit": "second round", "lint": None}


def test_every_revision_round_left_unfinished_is_found_on_resume(tmp_path: Path) -> None:
    """The engine resuming a run goes on with each revision round an earlier engine began: it
    asks for every patch of the run whose changes were requested, not the newest 200."""
    from store import queries

    db = tmp_path / ".uet" / "uet.db"
    with Store(db):
        pass
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT INTO runs (id, workstream, root, state, created_at) VALUES ('r', 'w', '/p', 'running', 1)")
        conn.executemany(PATCH.replace("'proposed'", "'changes_requested'"),
                         ((f"p{n:03d}", f"edit-{n}", "diff", 10.0 + n, 10.0 + n) for n in range(250)))
        conn.execute(PATCH, ("other", "lint", "diff", 1.0, 1.0))

    with Store(db):
        every = queries.list_patches("r", state="changes_requested", limit=None)
        newest = queries.list_patches("r", state="changes_requested")

    assert len(every) == 250 and every[0].id == "p249" and every[-1].id == "p000"
    assert len(newest) == 200

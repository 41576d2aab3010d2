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

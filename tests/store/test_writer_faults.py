"""The writer on a real SQLite file when something goes wrong: one unit's bad value must not stop
it (the rest commits, the value becomes NULL or the unit an event saying so); a database that
stops taking writes stops it for good, with the first cause kept and its watchers told once;
and a database file deleted or replaced under the open connection is noticed."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from store import Store, ops, queries
from store.errors import StoreFailed

from .test_store import make_run


def _events(db_path: Path, kind: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT run_id, step_id, data FROM events WHERE kind = ? ORDER BY seq", (kind,)).fetchall()


def _attempt(run_id: str, step: str, exit_code: Any, tokens_in: Any, model: Any = "m") -> Any:
    return ops.attempt_row(run_id, step, 1, "tool", "succeeded", None, 1.0, 2.0, exit_code, None, None, tokens_in,
                           None, None, model)


def test_a_value_sqlite_cannot_hold_becomes_null_and_the_rest_commits(store: Store, db_path: Path) -> None:
    """An exit code of 10**23, a token count that is a list, a lone surrogate: the first stopped
    the writer for good (exit 3, the run left 'running'). Now those values are NULL, an event
    names each (table, column, the value's beginning), and the batch's other units commit."""
    make_run(store, "r1")

    async def engine_writes() -> None:
        store.submit([ops.insert_event(1.0, "before", "r1", None, {})])
        store.submit([_attempt("r1", "a", 10**23, [1, 2], "\ud800"),
                      ops.insert_event(1.0, "step.state", "r1", "a", {"to": "succeeded"})])
        store.submit([_attempt("r1", "b", 0, 5), ops.insert_event(1.0, "after", "r1", "b", {})])
        store.sync()

    asyncio.run(engine_writes())
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT step_id, exit_code, tokens_in, model FROM attempts ORDER BY step_id").fetchall()
    assert rows == [("a", None, None, None), ("b", 0, 5, "m")]
    assert [e.kind for e in queries.events_after(0) if e.kind != "run.created"] == [
        "before", "step.state", "store.values_dropped", "after"]
    ((run_id, step_id, data),) = _events(db_path, "store.values_dropped")
    assert (run_id, step_id) == ("r1", "a")
    assert json.loads(data)["values"] == [
        {"table": "attempts", "column": "exit_code", "value": "100000000000000000000000"},
        {"table": "attempts", "column": "tokens_in", "value": "[1, 2]"},
        {"table": "attempts", "column": "model", "value": "?"},
    ]
    assert store.writer.failed is None and store.writer.repaired == 1


def test_a_unit_that_still_cannot_be_written_is_replaced_by_an_event(store: Store, db_path: Path) -> None:
    make_run(store, "r1")
    broken = ("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, NULL, '{}')", (1.0, "r1", "a"))
    store.submit([ops.insert_event(1.0, "mine", "r1", "a", {}), broken])  # kind is NOT NULL
    store.submit([ops.insert_event(2.0, "next", "r1", None, {})])
    store.sync()
    kinds = [e.kind for e in queries.events_after(0) if e.kind != "run.created"]
    assert kinds == ["store.unit_dropped", "next"]  # the whole unit, its own event too: units are atomic
    ((run_id, step_id, data),) = _events(db_path, "store.unit_dropped")
    assert (run_id, step_id) == ("r1", "a")
    assert "NOT NULL constraint failed: events.kind" in json.loads(data)["error"]


def test_a_database_that_stops_taking_writes_stops_the_writer_with_its_cause(store: Store) -> None:
    """A read-only database (what a full disk or a read-only mount also bring): the writer keeps
    the SQLite error as the cause, tells its watcher once, drops what the engine still writes
    while watched (an exception raised in the engine's callbacks would only be printed), and
    raises the same failure from ``sync``."""
    make_run(store, "r1")
    store.db.connection().execute("PRAGMA query_only = ON")
    told: list[StoreFailed] = []
    store.writer.watch(told.append)
    store.submit([ops.insert_event(1.0, "lost", "r1", None, {})])
    with pytest.raises(StoreFailed) as failed:
        store.sync()
    assert str(failed.value) == f"the store {store.path} is read-only (attempt to write a readonly database)"
    assert isinstance(failed.value.__cause__, sqlite3.OperationalError)
    assert told == [failed.value]
    store.submit([ops.insert_event(2.0, "dropped", "r1", None, {})])  # no exception: the watcher was told
    assert told == [failed.value]
    store.db.connection().execute("PRAGMA query_only = OFF")
    with pytest.raises(StoreFailed):  # stopped for good: a later engine (uet resume) goes on
        store.sync()
    assert "lost" not in [e.kind for e in queries.events_after(0)]


def test_a_writer_nobody_watches_raises_its_failure_on_the_next_write(store: Store) -> None:
    store.db.connection().execute("PRAGMA query_only = ON")
    store.submit([ops.insert_event(1.0, "x", None, None, {})])  # no loop: commits (and fails) at once
    with pytest.raises(StoreFailed, match="read-only") as failed:
        store.submit([ops.insert_event(2.0, "y", None, None, {})])
    assert "no transaction is active" not in str(failed.value)


def test_a_deleted_or_replaced_database_file_is_noticed(tmp_path: Path) -> None:
    """SQLite writes on into a deleted file without a word; one stat call tells."""
    for what, damage in (("was deleted", lambda p: shutil.rmtree(p.parent)),
                         ("was replaced by another file", lambda p: (p.unlink(), p.write_bytes(b"")))):
        path = tmp_path / what.replace(" ", "-") / ".uet" / "uet.db"
        store = Store(path)
        try:
            store.check_file()
            damage(path)
            store.submit([ops.insert_event(time.time(), "x", None, None, {})])
            with pytest.raises(StoreFailed) as failed:
                store.check_file()
            assert str(failed.value) == f"the store {path} {what}"
            assert store.writer.failed is failed.value
            with pytest.raises(StoreFailed):
                store.sync()
        finally:
            store.close()

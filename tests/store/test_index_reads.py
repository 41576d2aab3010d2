"""Reads that stay the same size as a store grows: the runs the dashboard counts per state and
the finished ones old enough to be hidden (right for each way a run's end is known, and read
from the index ``runs_age`` rather than the whole runs table, which took about 65 ms at 100,000
runs on every run that came or changed state), and the newest breaker changes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from store import Store, queries

CUT = 1_000.0
FINISHED = ["canceled", "failed", "succeeded"]
#: (state, created_at, started_at, ended_at): which of them says when the run ended.
RUNS = [
    ("succeeded", 10.0, 20.0, 30.0),      # ended long ago: old
    ("succeeded", 10.0, 20.0, 2_000.0),   # created long ago, ended after the cut: not old
    ("failed", 10.0, 900.0, None),        # never ended, started before the cut: old
    ("failed", 10.0, 1_500.0, None),      # started after it: not old
    ("canceled", 999.0, None, None),      # never started: its creation is its end, old
    ("canceled", 1_000.0, None, None),    # created at the cut: not before it
    ("running", 10.0, 20.0, None),        # not finished: never counted old, however long it runs
    ("pending", 5.0, None, None),
]


def _insert(store: Store) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.executemany(
            "INSERT INTO runs (id, workstream, root, state, created_at, started_at, ended_at) "
            "VALUES (?, 'w', '/p', ?, ?, ?, ?)",
            [(f"r{i}", *run) for i, run in enumerate(RUNS)])


def test_counts_per_state_and_the_old_ones_by_when_each_run_ended(store: Store) -> None:
    _insert(store)
    assert queries.run_counts(FINISHED, CUT) == {
        "succeeded": (2, 1), "failed": (2, 1), "canceled": (2, 1), "running": (1, 0), "pending": (1, 0)}


def test_both_counts_search_the_age_index_and_read_no_table_row(store: Store, db_path: Path) -> None:
    _insert(store)
    marks = ", ".join("?" * len(FINISHED))
    with sqlite3.connect(db_path) as conn:
        for sql, args in ((queries.COUNT_BY_STATE, ()), (queries.COUNT_OLD.format(marks=marks), (*FINISHED, CUT))):
            plan = " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
            assert "COVERING INDEX runs_age" in plan or "USING INDEX runs_age" in plan, plan
            assert "SCAN runs" not in plan or "SCAN runs USING" in plan, plan


def test_the_newest_breaker_changes_are_searched_in_their_own_index(store: Store) -> None:
    """The dashboard's first read takes each open breaker's probe time from the newest
    breaker.state events, which are few among all the events: the read searches the partial
    index that holds only them, and gives them oldest first."""
    with sqlite3.connect(store.path) as conn:
        conn.executemany("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)",
                         [(float(n), "r", "a", "breaker.state" if n % 50 == 7 else "step.state",
                           json.dumps({"tool": f"t{n}"})) for n in range(500)])
    sent: list[str] = []
    conn = store.db.connection()
    conn.set_trace_callback(sent.append)
    try:
        found = queries.last_breaker_events(limit=4)
    finally:
        conn.set_trace_callback(None)
    assert [event.data["tool"] for event in found] == ["t307", "t357", "t407", "t457"]
    [sql] = [s for s in sent if "FROM events" in s]
    plan = " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
    assert "INDEX events_breaker" in plan, plan


def test_runs_read_as_plain_rows_are_the_records_validation_makes(store: Store) -> None:
    """The dashboard's pages of runs are read as plain rows and made into records without
    validating each: every field, the state's enum included, is what validation gives."""
    from schemas.records import RunRecord
    from store.tables import Run

    _insert(store)
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET worker_id = 'w1', reason = 'why', pausing = 'ana', waiting_on = 'sim', "
                     "waiting_until = 5.5, total_steps = 3, skipped_steps = 1 WHERE id = 'r6'")
    validated = {row.id: RunRecord.model_validate({name: getattr(row, name) for name in RunRecord.model_fields})
                 for row in Run.select()}
    listed = queries.list_runs(limit=100)
    assert [run.id for run in listed] == sorted(validated, key=lambda rid: (validated[rid].created_at, rid),
                                                reverse=True)
    for run in [*listed, *queries.runs_by_id(validated), *queries.list_runs(100, states=["pending", "running"])]:
        assert run == validated[run.id] and type(run.state) is type(validated[run.id].state)
        assert run.model_dump(mode="json") == validated[run.id].model_dump(mode="json")


def test_the_newest_patches_of_every_state_are_read_by_age_from_an_index(store: Store) -> None:
    """Reaching a patch's created_at without an index walks its diff's overflow pages: the
    newest patches, of every state or of one, are found through an index and come newest first."""
    from store import ops, reads
    from store.list_sql import patches_sql

    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO runs (id, workstream, root, state, created_at) "
                     "VALUES ('r', 'w', '/p', 'succeeded', 1)")
        for n in range(30):
            sql, params = ops.insert_patch(f"p{n:02d}", "r", f"s{n % 3}", 1, "approved" if n % 2 else "proposed",
                                           "b", "x" * 5_000, "h", [], 1, 0, None, 1, None, None, float(n), "t", None)
            conn.execute(sql, params)
    with sqlite3.connect(store.path) as conn:
        assert [p["id"] for p in reads.patches(conn, limit=3)] == ["p29", "p28", "p27"]
        assert [p["id"] for p in reads.patches(conn, state="proposed", limit=2)] == ["p28", "p26"]
        for run_id, state in ((None, None), (None, "approved")):
            sql, params = patches_sql(run_id, state, 5)
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
            assert not any(line == "SCAN patches" or line.startswith("USE TEMP B-TREE FOR ORDER BY")
                           for line in plan), plan


def test_the_runs_with_patches_decided_since_are_found_through_an_index(store: Store) -> None:
    """The lessons' harvest asks this after every run: it searches the patches by when they were
    last changed instead of reading every patch (and every diff before the column)."""
    from store import lessons, ops

    with sqlite3.connect(store.path) as conn:
        for n in range(6):
            conn.execute("INSERT INTO runs (id, workstream, root, state, created_at, ended_at) "
                         "VALUES (?, 'w', '/p', 'succeeded', 1, 2)", (f"r{n}",))
            sql, params = ops.insert_patch(f"p{n}", f"r{n}", "s", 1, "approved", "b", "x" * 5_000, "h", [], 1, 0,
                                           None, 1, None, None, 1.0, "t", None)
            conn.execute(sql, params)
            conn.execute("UPDATE patches SET updated_at = ? WHERE id = ?", (10.0 * n, f"p{n}"))
    sent: list[str] = []
    conn = store.db.connection()
    conn.set_trace_callback(sent.append)
    try:
        assert lessons.runs_changed_since(25.0) == ["r5", "r4", "r3"]
    finally:
        conn.set_trace_callback(None)
    [sql] = [s for s in sent if "FROM patches" in s]
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert any("INDEX patches_updated" in line for line in plan), plan


def test_a_patchs_rounds_are_found_through_the_index_of_parents(store: Store) -> None:
    """Opening a patch reads its lineage up and down: each step of the way searches an index,
    none reads every patch (and every diff before parent_id)."""
    from store import ops, queries

    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO runs (id, workstream, root, state, created_at) "
                     "VALUES ('r', 'w', '/p', 'succeeded', 1)")
        for n in range(12):  # four lineages of three rounds
            parent = f"p{n - 1}" if n % 3 else None
            sql, params = ops.insert_patch(f"p{n}", "r", f"s{n // 3}", n % 3 + 1, "superseded", "b", "x" * 5_000, "h",
                                           [], 1, 0, None, n % 3 + 1, parent, None, float(n), "t", None)
            conn.execute(sql, params)
    sent: list[str] = []
    conn = store.db.connection()
    conn.set_trace_callback(sent.append)
    try:
        assert [p.id for p in queries.patch_rounds("p4")] == ["p3", "p4", "p5"]
    finally:
        conn.set_trace_callback(None)
    [sql] = [s for s in sent if "WITH RECURSIVE" in s]
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    # An automatic index is one SQLite builds for the query by reading every patch.
    assert not any(line in ("SCAN p", "SCAN patches") or "AUTOMATIC" in line for line in plan), plan
    assert any("INDEX patches_parent" in line for line in plan), plan

"""The runs the dashboard counts per state, and the finished ones old enough to be hidden: right
for each way a run's end is known (ended, only started, only created), and read from the index
``runs_age`` rather than the whole runs table (which took about 65 ms at 100,000 runs, on
every run that came or changed state)."""

from __future__ import annotations

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

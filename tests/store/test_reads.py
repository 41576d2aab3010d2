"""``store.reads``: the plain-row reads of the read commands agree with the typed reads, and a
store at another schema version is migrated (or refused) before it is read."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from schemas.records import AttemptRecord, RunRecord, WorkerRecord
from store import NoSuchRecord, Store, StoreError, queries, reads
from store.migrations import LATEST


def test_the_schema_version_read_without_the_migrations_is_the_latest() -> None:
    assert reads.SCHEMA_VERSION == LATEST


def test_the_rows_have_the_fields_of_the_records() -> None:
    assert list(reads.RunRow._fields) == list(RunRecord.model_fields)
    assert list(reads.AttemptRow._fields) == list(AttemptRecord.model_fields)
    assert list(reads.WorkerRow._fields) == list(WorkerRecord.model_fields)


def test_runs_steps_and_workers_read_as_the_typed_reads_have_them(store: Store, db_path: Path) -> None:
    store.create_run(run_id="r1", workstream="demo", source="ws.yaml", root="/p", max_parallel=2, spec={},
                     steps=[("a", "command", [], {}), ("b", "command", ["a"], {})])
    store.create_run(run_id="r2", workstream="other", source=None, root="/p", max_parallel=1, spec={}, steps=[])
    store.register_worker("w1", os.getpid(), "here")
    assert store.claim_run("r1", "w1", lambda _worker: True) is None
    conn = reads.connect(db_path)
    try:
        for run in queries.list_runs():
            assert reads.get_run(conn, run.id)._asdict() == run.model_dump(exclude={"spec"})
        assert [r.id for r in reads.list_runs(conn)] == [r.id for r in queries.list_runs()]
        assert reads.workers_by_id(conn, ["w1", "nobody"])["w1"]._asdict() == queries.get_worker("w1").model_dump()
        lines = reads.step_lines(conn, "r1")
        assert [(s.id, s.state, s.needs) for s in lines] == [(s.id, s.state, s.needs) for s in queries.steps("r1")]
        with pytest.raises(NoSuchRecord, match="several runs"):
            reads.resolve_run_id(conn, "r")
        assert reads.resolve_run_id(conn, "r2") == "r2"
        with pytest.raises(NoSuchRecord, match="no run matches 'x'"):
            reads.resolve_run_id(conn, "x")
    finally:
        conn.close()


def test_a_store_behind_is_migrated_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # an empty database: schema version 0
    conn = reads.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert reads.list_runs(conn) == []
    finally:
        conn.close()


def test_a_store_newer_than_this_uet_is_refused(store: Store, db_path: Path) -> None:
    store.close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {LATEST + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer than this uet understands"):
        reads.connect(db_path)

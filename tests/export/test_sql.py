"""uet sql: the same views and answers through DuckDB and SQLite, the refusals (nothing
written), one-line errors, bounded output, and reading while an engine holds a write."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from store.sql import SqlFailed, SqlRefused, run_sql
from store.views import view_descriptions
from tests.export.conftest import RUNS, STEPS, digest
from tui.cli import main

BACKENDS = ["duckdb", "sqlite"]


@pytest.fixture(scope="module")
def copy_db(history_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy the refusal tests may try to change."""
    target = tmp_path_factory.mktemp("sql") / "uet.db"
    shutil.copy(history_db, target)
    return target


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_view_answers_in_both_backends(history_db: Path, backend: str) -> None:
    for view in view_descriptions():
        result = run_sql(history_db, f"select * from {view.name} limit 3", backend=backend)
        assert result.backend == backend and tuple(result.columns) == view.columns and result.rows


def test_both_backends_give_the_same_numbers(history_db: Path) -> None:
    sql = ("select tool, count(*), sum(succeeded), round(avg(success_rate), 6) from v_tool_daily "
           "group by tool order by tool")
    answers = [run_sql(history_db, sql, backend=backend).rows for backend in BACKENDS]
    assert [tuple(row) for row in answers[0]] == [tuple(row) for row in answers[1]]
    per_tool = {row[0]: row[2] for row in answers[1]}
    assert sum(per_tool.values()) == RUNS * STEPS  # every step succeeded once in the end
    days = [run_sql(history_db, "select min(day), max(day) from v_tool_daily", backend=b).rows[0] for b in BACKENDS]
    assert [str(v) for v in days[0]] == [str(v) for v in days[1]] == ["2025-12-01", "2025-12-04"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sql", [
    "delete from runs",
    "with x as (select 1) delete from runs",
    "insert into runs (id) values ('x')",
    "update steps set state = 'failed'",
    "attach 'other.db' as other",
    "pragma writable_schema = 1",
    "create table t (a)",
    "drop table runs",
    "select 1; delete from runs",
])
def test_writing_statements_are_refused_and_nothing_changes(copy_db: Path, backend: str, sql: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    before = digest(copy_db)
    assert main(["sql", "--backend", backend, "--db", str(copy_db), sql]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("uet: ") and len(err.splitlines()) == 1
    assert "refused" in err or "one statement" in err
    assert digest(copy_db) == before
    assert not (copy_db.parent / "other.db").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_files_and_hidden_columns_stay_out_of_reach(history_db: Path, backend: str) -> None:
    if backend == "duckdb":
        with pytest.raises(SqlFailed, match="disabled by configuration"):
            run_sql(history_db, "select * from read_csv('/etc/hostname')", backend=backend)
        with pytest.raises(SqlFailed, match='"spec" not found'):
            run_sql(history_db, "select spec from steps", backend=backend)
    else:
        assert run_sql(history_db, "select spec from steps limit 1", backend=backend).rows == [(None,)]
    with pytest.raises(SqlRefused):
        run_sql(history_db, "  -- a comment\n  DELETE FROM runs", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broken_query_says_why_in_one_line(history_db: Path, backend: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "--backend", backend, "--db", str(history_db), "select nope from v_attempts"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope" in err and err.startswith(f"uet: {backend}: ")


def test_output_is_bounded_and_says_so(history_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(history_db)]
    assert main(["sql", *db, "--json", "--limit", "5", "select seq, ts from v_events order by seq"]) == 0
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5] and rows[0]["ts"].endswith("Z")
    assert "… more rows" in out.err
    assert main(["sql", *db, "--csv", "select id, state from v_runs order by id limit 2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["id,state", "r00000,succeeded", "r00001,succeeded"]
    assert main(["sql", *db, "select count(*) as n from v_runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].strip() == "n" and table[2].strip() == str(RUNS)


def test_sql_reads_while_a_writer_holds_the_store(copy_db: Path) -> None:
    """A real ``uet sql`` process while another connection holds BEGIN IMMEDIATE with a row not
    yet committed: it answers (it would wait for the lock and fail if it took one) with the
    committed state."""
    writer = sqlite3.connect(copy_db, isolation_level=None)
    with closing(writer):
        writer.execute("PRAGMA journal_mode = wal")
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO runs (id, workstream, root, state, created_at) "
                       "VALUES ('uncommitted', 'w', '/p', 'running', 0)")
        env = {**os.environ, "UET_SQL_BACKEND": "sqlite"}
        done = subprocess.run([sys.executable, "-m", "tui.cli", "sql", "--db", str(copy_db), "--json",
                               "select count(*) as n from runs"], capture_output=True, text=True, timeout=120,
                              env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [{"n": RUNS}]
        assert run_sql(copy_db, "select count(*) from runs", backend="duckdb").rows == [(RUNS,)]
        assert writer.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == RUNS + 1
        writer.execute("ROLLBACK")


def test_without_duckdb_auto_reads_through_sqlite(history_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("store.sql._duckdb_scanner", lambda: None)  # as if the extra were not installed
    monkeypatch.delenv("UET_SQL_BACKEND", raising=False)
    assert run_sql(history_db, "select count(*) from v_runs").backend == "sqlite"
    with pytest.raises(SqlFailed, match=r"pip install 'uet\[analytics\]'"):
        run_sql(history_db, "select 1", backend="duckdb")
    monkeypatch.undo()
    assert run_sql(history_db, "select count(*) from v_runs").backend == "duckdb"

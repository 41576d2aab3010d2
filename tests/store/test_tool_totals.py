"""What each tool achieved is kept as its attempts finish (migration 13): after any sequence of
the engine's own writes (an attempt started, finished, written again whole, finished by an
update, canceled) and any patch decisions, ``kind_stats`` and ``tool_usage`` give what a full
read of every attempt gives; a store made before the totals gets them when it is opened; and
the reads search indexes, never every attempt (about 0.6 s at 100,000 attempts, paid by every
run's first ``auto`` choice)."""

from __future__ import annotations

import random
import sqlite3
import statistics
from pathlib import Path
from typing import Any

import pytest
from peewee import SqliteDatabase

from store import Store, ops
from store import tool_totals as totals
from store.migrations import LATEST, MIGRATIONS

JUDGED = ("succeeded", "failed", "timed_out", "crashed")
TOOLS = ("claude", "codex", "ruff", "command")
#: (step kind, its spec): patch steps and plain ones, and a spec that is not JSON.
KINDS = (("code_edit", '{"produces": "patch"}'), ("review", "{}"), ("lint", '{"produces": "report"}'),
         ("code_edit", "{}"), ("odd", "not json"))

# The figures as a full read of the attempts makes them: what these reads were before the totals.
FULL_KIND = f"""
SELECT a.tool, s.kind, COUNT(*), SUM(a.state = 'succeeded'),
       SUM(CASE WHEN json_valid(s.spec) AND json_extract(CASE WHEN json_valid(s.spec) THEN s.spec END, '$.produces') = 'patch'
                THEN EXISTS (SELECT 1 FROM patches AS p WHERE p.run_id = a.run_id AND p.step_id = a.step_id
                             AND p.attempt = a.number AND p.state IN ('approved', 'applied'))
                ELSE a.state = 'succeeded' END),
       SUM(a.usd IS NOT NULL), COALESCE(SUM(a.usd), 0.0),
       (SELECT AVG(p.round) FROM patches AS p JOIN attempts AS pa
            ON pa.run_id = p.run_id AND pa.step_id = p.step_id AND pa.number = p.attempt
            JOIN steps AS ps ON ps.run_id = p.run_id AND ps.id = p.step_id
        WHERE pa.tool = a.tool AND ps.kind = s.kind AND p.state IN ('approved', 'applied'))
FROM attempts AS a JOIN steps AS s ON s.run_id = a.run_id AND s.id = a.step_id
WHERE a.state IN {JUDGED} GROUP BY a.tool, s.kind ORDER BY a.tool, s.kind
"""
FULL_TOOL = f"""
SELECT tool, COUNT(*), SUM(state = 'succeeded'), COALESCE(SUM(usd), 0), COUNT(usd),
       COALESCE(SUM(COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0)), 0),
       SUM(tokens_in IS NOT NULL OR tokens_out IS NOT NULL), MAX(ended_at)
FROM attempts WHERE state IN {JUDGED} GROUP BY tool ORDER BY tool
"""


def _steps(conn: sqlite3.Connection, runs: int) -> list[tuple[str, str]]:
    made = []
    for r in range(runs):
        conn.execute("INSERT INTO runs (id, workstream, root, state, created_at) VALUES (?, 'w', '/p', 'succeeded', 1)",
                     (f"r{r}",))
        for i, (kind, spec) in enumerate(KINDS):
            conn.execute("INSERT INTO steps (run_id, id, idx, kind, state, spec) VALUES (?, ?, ?, ?, 'succeeded', ?)",
                         (f"r{r}", f"s{i}", i, kind, spec))
            made.append((f"r{r}", f"s{i}"))
    return made


def _write(conn: sqlite3.Connection, statement: Any) -> None:
    sql, params = (statement.sql, statement.params) if isinstance(statement, ops.RowImage) else statement
    conn.execute(sql, params)


def _history(conn: sqlite3.Connection, seed: int, runs: int = 6, moves: int = 400) -> None:
    """Random moves of the engine's own statements over the steps of ``runs`` runs."""
    rnd = random.Random(seed)
    steps = _steps(conn, runs)
    numbers: dict[tuple[str, str], int] = {}
    clock = 10.0
    for n in range(moves):
        run_id, step_id = rnd.choice(steps)
        number = numbers.get((run_id, step_id), 0)
        move = rnd.random()
        clock += 1.0
        usd = rnd.choice([None, 0.25, 0.1, 1.5])
        tokens = rnd.choice([(None, None), (100, 20), (None, 7)])
        tool = rnd.choice(TOOLS)
        if number == 0 or move < 0.3:  # a new attempt, running, or already finished
            number += 1
            numbers[run_id, step_id] = number
            state = rnd.choice(["running", "running", *JUDGED, "canceled"])
            ended = clock if state != "running" else None
            _write(conn, ops.attempt_row(run_id, step_id, number, tool, state, None, clock - 0.5, ended_at=ended,
                                         usd=usd, tokens_in=tokens[0], tokens_out=tokens[1], duration=rnd.random()))
        elif move < 0.6:  # the whole row again: finished, or a finished one rewritten (its tool too)
            state = rnd.choice([*JUDGED, "canceled", "running"])
            _write(conn, ops.attempt_row(run_id, step_id, number, tool, state, "w", clock - 2, ended_at=clock,
                                         usd=usd, tokens_in=tokens[0], tokens_out=tokens[1], duration=1.0))
        elif move < 0.85:  # finished by an update, or judged again
            _write(conn, ops.finish_attempt(run_id, step_id, number, rnd.choice([*JUDGED, "canceled"]), clock, 0,
                                            None, tokens[0], tokens[1], usd, "m"))
        else:  # a patch of that attempt, then perhaps a decision on it
            patch_id = f"p{n}"
            _write(conn, ops.insert_patch(patch_id, run_id, step_id, number, "proposed", "b", "d", "h", [], 1, 0,
                                          None, rnd.choice([1, 2, 3]), None, None, clock, "t", None))
            if rnd.random() < 0.7:
                conn.execute("UPDATE patches SET state = ? WHERE id = ?",
                             (rnd.choice(["approved", "applied", "rejected", "superseded"]), patch_id))


def _full(conn: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    kinds = [(tool, kind, n, ok, took, priced, round(usd, 6), rounds)
             for tool, kind, n, ok, took, priced, usd, rounds in conn.execute(FULL_KIND)]
    tools = [(tool, n, ok, round(usd, 6), priced, tokens, tokenized, last)
             for tool, n, ok, usd, priced, tokens, tokenized, last in conn.execute(FULL_TOOL)]
    return kinds, tools


def _kept() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    kinds = [(s.tool, s.kind, s.attempts, s.succeeded, s.accepted, s.priced, s.usd, s.mean_rounds)
             for s in totals.kind_stats()]
    tools = [(u.tool, u.attempts, u.succeeded, u.usd, u.priced, u.tokens, u.tokenized, u.last_used_at)
             for _, u in sorted(totals.tool_usage().items())]
    return kinds, tools


def _close(kept: list[tuple[Any, ...]], full: list[tuple[Any, ...]]) -> None:
    assert len(kept) == len(full)
    for a, b in zip(kept, full, strict=True):
        assert a == pytest.approx(b), (a, b)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_totals_are_what_a_full_read_gives_after_any_history(store: Store, seed: int) -> None:
    with sqlite3.connect(store.path, isolation_level=None) as conn:
        _history(conn, seed)
        full_kinds, full_tools = _full(conn)
    kinds, tools = _kept()
    assert full_kinds and full_tools  # the history judged some attempts
    assert any(row[4] and row[7] for row in full_kinds)  # and accepted some patches
    _close(kinds, full_kinds)
    _close(tools, full_tools)


def test_a_store_made_before_the_totals_gets_them_when_opened(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    old = SqliteDatabase(str(db_path))
    for _number, _name, step in MIGRATIONS[:12]:
        step(old)
    old.execute_sql("PRAGMA user_version = 12")
    old.close()
    with sqlite3.connect(db_path, isolation_level=None) as conn:
        _history(conn, 5)
        full_kinds, full_tools = _full(conn)
    with Store(db_path) as opened:
        assert opened.applied == list(range(13, LATEST + 1))
        kinds, tools = _kept()
    _close(kinds, full_kinds)
    _close(tools, full_tools)


def test_the_reads_search_indexes_and_scan_no_attempt(store: Store) -> None:
    with sqlite3.connect(store.path, isolation_level=None) as conn:
        _history(conn, 6)
    sent: list[str] = []
    conn = store.db.connection()
    conn.set_trace_callback(sent.append)
    try:
        totals.kind_stats()
        totals.tool_usage()
    finally:
        conn.set_trace_callback(None)
    read = [sql for sql in sent if sql.lstrip().upper().startswith("SELECT")]
    assert len(read) >= 3  # the totals, the accepted patches, a median per tool
    for sql in read:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        scanned = [line for line in plan if line.startswith("SCAN ")]
        assert all(line.split()[1] == "tool_totals" for line in scanned), (sql, plan)


def test_the_median_is_of_each_tools_newest_finished_attempts(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(totals, "MEDIAN_OVER", 3)
    with sqlite3.connect(store.path, isolation_level=None) as conn:
        _steps(conn, 1)
        for number, (took, state) in enumerate([(100.0, "failed"), (90.0, "succeeded"), (1.0, "succeeded"),
                                                (7.0, "canceled"), (2.0, "crashed"), (3.0, "succeeded"),
                                                (50.0, "running")], start=1):
            ended = None if state == "running" else 10.0 * number
            _write(conn, ops.attempt_row("r0", "s1", number, "ruff", state, None, 1.0, ended_at=ended, duration=took))
    usage = totals.tool_usage()["ruff"]
    # Judged: 100, 90, 1, 2, 3 (the canceled and the running one say nothing); the newest 3 are 1, 2, 3.
    assert (usage.attempts, usage.succeeded, usage.median_seconds) == (5, 3, statistics.median([1.0, 2.0, 3.0]))

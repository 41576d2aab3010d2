"""What each tool achieved is kept as its attempts finish (migration 13): after any sequence of
the engine's own writes (an attempt started, finished, written again whole, finished by an
update, canceled) and any patch decisions, ``kind_stats`` and ``tool_usage`` give what a full
read of every attempt gives; a store made before the totals gets them when it is opened; and
the reads search indexes, never every attempt (about 0.6 s at 100,000 attempts, paid by every
run's first ``auto`` choice)."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import statistics
from pathlib import Path
from typing import Any

import pytest

from store import Store, ops
from store import tool_totals as totals
from store.migrations import LATEST
from tests.conftest import Project
from tests.store.versions import store_at

JUDGED = ("succeeded", "failed", "timed_out", "crashed")
TOOLS = ("claude", "codex", "ruff", "command")
#: (step kind, its spec): patch steps and plain ones, and a spec that is not JSON.
KINDS = (("code_edit", '{"produces": "patch"}'), ("review", "{}"), ("lint", '{"produces": "report"}'),
         ("code_edit", "{}"), ("odd", "not json"))

# The figures as a full read of the attempts makes them: what these reads were before the totals.
FULL_KIND = f"""
SELECT a.tool, s.kind, COUNT(*), SUM(a.state = 'succeeded'),
       SUM(CASE WHEN json_valid(s.spec)
                     AND json_extract(CASE WHEN json_valid(s.spec) THEN s.spec END, '$.produces') = 'patch'
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
    tools: dict[tuple[str, str, int], str] = {}  # an attempt's tool is written once, as the engine does
    patches: list[str] = []
    decisions = ["proposed", "approved", "applied", "rejected", "superseded"]
    clock = 10.0
    for n in range(moves):
        run_id, step_id = rnd.choice(steps)
        number = numbers.get((run_id, step_id), 0)
        move = rnd.random()
        clock += 1.0
        usd = rnd.choice([None, 0.25, 0.1, 1.5])
        tokens = rnd.choice([(None, None), (100, 20), (None, 7)])
        new = number == 0 or move < 0.3
        if new:
            number += 1
            numbers[run_id, step_id] = number
            tools[run_id, step_id, number] = rnd.choice(TOOLS)
        tool = tools[run_id, step_id, number]
        if new:  # a new attempt, running, or already finished
            state = rnd.choice(["running", "running", *JUDGED, "canceled"])
            ended = clock if state != "running" else None
            _write(conn, ops.attempt_row(run_id, step_id, number, tool, state, None, clock - 0.5, ended_at=ended,
                                         usd=usd, tokens_in=tokens[0], tokens_out=tokens[1], duration=rnd.random()))
        elif move < 0.55:  # the whole row again: finished, or a finished one rewritten
            state = rnd.choice([*JUDGED, "canceled", "running"])
            _write(conn, ops.attempt_row(run_id, step_id, number, tool, state, "w", clock - 2, ended_at=clock,
                                         usd=usd, tokens_in=tokens[0], tokens_out=tokens[1], duration=1.0))
        elif move < 0.75:  # finished by an update, or judged again
            _write(conn, ops.finish_attempt(run_id, step_id, number, rnd.choice([*JUDGED, "canceled"]), clock, 0,
                                            None, tokens[0], tokens[1], usd, "m"))
        elif patches and move < 0.85:  # a later decision on an earlier patch, or another round number
            if rnd.random() < 0.8:
                conn.execute("UPDATE patches SET state = ? WHERE id = ?", (rnd.choice(decisions), rnd.choice(patches)))
            else:
                conn.execute("UPDATE patches SET round = round + 1 WHERE id = ?", (rnd.choice(patches),))
        else:  # a patch of that attempt (some decided at once), then perhaps a decision on it
            patch_id = f"p{n}"
            patches.append(patch_id)
            _write(conn, ops.insert_patch(patch_id, run_id, step_id, number, rnd.choice(["proposed", "approved"]),
                                          "b", "d", "h", [], 1, 0, None, rnd.choice([1, 2, 3]), None, None, clock, "t",
                                          None))
            if rnd.random() < 0.5:
                conn.execute("UPDATE patches SET state = ? WHERE id = ?", (rnd.choice(decisions), patch_id))


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
    store_at(db_path, 12).close()
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
        assert not any("AUTOMATIC" in line for line in plan), (sql, plan)  # an index built by reading all


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


def test_the_command_line_says_it_is_updating_an_older_store_and_how_long_it_took(project: Project) -> None:
    """Updating a large store takes seconds once (9 s at a million attempts): a command says so
    on stderr, with the time, and prints its own output unchanged; a new store or one already
    up to date is opened without a word."""
    store_at(project.db, 12).close()
    with sqlite3.connect(project.db, isolation_level=None) as conn:
        _history(conn, 7, runs=2, moves=50)
    first = project.uet("runs", "--json", check=True)
    lines = first.stderr.splitlines()
    assert len(lines) == 2, first.stderr
    assert lines[0] == f"uet: updating the store {project.db} from schema 12 to {LATEST} (once, after an upgrade; " \
                       "a store of a million attempts takes seconds)"
    assert lines[1].startswith("uet: store updated in ") and lines[1].endswith(" s"), lines[1]
    assert {run["id"] for run in json.loads(first.stdout)} == {"r0", "r1"}
    again = project.uet("runs", "--json", check=True)
    assert again.stderr == "" and again.stdout == first.stdout
    fresh = project.root / "fresh"
    (fresh / ".uet").mkdir(parents=True)
    made = project.uet("--db", str(fresh / ".uet" / "uet.db"), "tools", "--no-version", check=True)
    assert made.stderr == ""


def test_nothing_writes_an_attempt_by_replacing_its_row() -> None:
    """``INSERT OR REPLACE`` deletes the row without a trigger seeing it, so the attempt would be
    counted twice: the engine's statement updates the row in place, and no other code replaces."""
    repo = Path(__file__).resolve().parents[2]
    found = [f"{path.relative_to(repo)}" for folder in ("engine", "store", "tui")
             for path in sorted((repo / folder).rglob("*.py"))
             if re.search(r"REPLACE\s+INTO\s+attempts\b", path.read_text(encoding="utf-8"), re.IGNORECASE)]
    assert found == []
    assert "ON CONFLICT (run_id, step_id, number) DO UPDATE" in ops.ATTEMPT_ROW_SQL


def test_the_dashboard_updates_an_older_store_without_a_word_on_its_screen(
        db_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A line on stderr would tear the dashboard's screen: it silences the notice (its panes say
    they are loading) before it opens the store; a command says it."""
    from store import notice
    from tui.app import UetApp

    monkeypatch.setattr(notice, "announce", notice.announce)  # put back whatever the app sets
    store_at(db_path, 12).close()
    app = UetApp(db_path.parent.parent, db_path)
    store = app.open_store()
    try:
        assert store.applied == list(range(13, LATEST + 1))
    finally:
        store.close()
    assert capfd.readouterr().err == ""

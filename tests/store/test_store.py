"""The store on a real SQLite file: migrations, pragmas, tables, the writer, the synchronous
writes, typed reads and the change feed (woken by another process)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from peewee import FloatField, IntegerField, TextField

from schemas.records import WorkerRecord
from store import ChangeFeed, EventCursor, NoSuchRecord, RunOwned, Store, StoreError, ops, queries
from store import writer as writer_module
from store.db import BUSY_TIMEOUT_MS
from store.migrations import LATEST, current_version
from store.tables import ALL_TABLES, ALL_VIEWS, INDEX_TABLES

# -- helpers ----------------------------------------------------------------------------


def make_run(
    store: Store, run_id: str, steps: list[str] | None = None, now: float | None = None
) -> None:
    step_ids = ["a", "b"] if steps is None else steps
    store.create_run(
        run_id=run_id,
        workstream="demo",
        source="ws.yaml",
        root="/project",
        max_parallel=2,
        spec={"name": "demo"},
        steps=[
            (step_id, "task", step_ids[:index], {"id": step_id})
            for index, step_id in enumerate(step_ids)
        ],
        now=now,
    )


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def pragma(store: Store, name: str) -> Any:
    return store.db.execute_sql(f"PRAGMA {name}").fetchone()[0]


# -- migrations -------------------------------------------------------------------------


def test_open_runs_migrations_to_latest(db_path: Path) -> None:
    with Store(db_path) as store:
        assert store.applied == list(range(1, LATEST + 1))
        assert current_version(store.db) == LATEST
        row = store.db.execute_sql("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert row == (str(LATEST),)
    assert user_version(db_path) == LATEST


def test_reopen_applies_nothing(db_path: Path) -> None:
    Store(db_path).close()
    with Store(db_path) as store:
        assert store.applied == []
        assert current_version(store.db) == LATEST


def test_costs_move_onto_attempts_when_a_version_3_database_is_opened(db_path: Path) -> None:
    """Migration 4: the costs table's rows land on their attempts and costs becomes a view."""
    from tests.store.versions import store_at

    old = store_at(db_path, 3)
    old.execute_sql("INSERT INTO runs (id, workstream, root, state, created_at) VALUES ('r', 'w', '/p', 'succeeded', 1)")
    old.execute_sql("INSERT INTO steps (run_id, id, idx, kind, state) VALUES ('r', 'a', 0, 'task', 'succeeded')")
    for number, ended in ((1, 3.0), (2, 5.0)):
        old.execute_sql("INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, tokens_in) "
                        "VALUES ('r', 'a', ?, 'sim', 'failed', 1, ?, 10)", (number, ended))
    old.execute_sql("INSERT INTO costs (run_id, step_id, attempt, tool, model, tokens_in, tokens_out, usd, wall, ts) "
                    "VALUES ('r', 'a', 1, 'sim', 'm', 10, 5, 0.25, 1.5, 3)")
    old.close()

    with Store(db_path) as store:
        assert store.applied == list(range(4, LATEST + 1))
        rows = store.db.execute_sql(
            "SELECT number, duration, tokens_out, usd, model, output FROM attempts ORDER BY number").fetchall()
        # Version 5 adds what each attempt answered: unknown for attempts from before it.
        assert rows == [(1, 1.5, 5, 0.25, "m", None), (2, None, None, None, None, None)]
        # Only the attempt that had a cost row is listed, with the same figures as before.
        assert [(c.attempt, c.wall, c.tokens_in, c.tokens_out, c.usd, c.ts) for c in queries.costs("r")] == [
            (1, 1.5, 10, 5, 0.25, 3.0)]
        kind = store.db.execute_sql("SELECT type FROM sqlite_master WHERE name = 'costs'").fetchone()
        assert kind == ("view",)


def test_newer_database_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(StoreError) as info:
        Store(db_path)
    message = str(info.value)
    assert f"version {LATEST + 1}" in message
    assert f"({LATEST})" in message
    assert "upgrade uet" in message
    assert user_version(db_path) == LATEST + 1


def test_unreadable_file_is_a_store_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=str(db_path).replace("\\", "\\\\")) as info:
        Store(db_path)
    assert info.value.__cause__ is not None


# -- pragmas ----------------------------------------------------------------------------


def test_pragmas_are_in_effect(store: Store) -> None:
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "foreign_keys") == 1
    assert pragma(store, "synchronous") == 1  # NORMAL
    assert pragma(store, "busy_timeout") == BUSY_TIMEOUT_MS


def test_pragmas_apply_to_every_thread_connection(store: Store) -> None:
    """The writer runs on its own thread, so its connection must get the pragmas too."""
    seen: dict[str, Any] = {}

    def read() -> None:
        try:
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout"):
                seen[name] = pragma(store, name)
        finally:
            store.db.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": BUSY_TIMEOUT_MS,
    }


def test_none_and_bools_bind_as_null_and_integers(store: Store) -> None:
    """The store registers cheap adapters for None and bool; what lands in the file must be
    what sqlite3 stores without them: NULL, 1 and 0, typed null and integer."""
    row = store.db.execute_sql("SELECT ?, typeof(?), ?, typeof(?), ?, ? IS NULL",
                               (None, None, True, True, False, None)).fetchone()
    assert row == (None, "null", 1, "integer", 0, 1)


# -- tables vs models -------------------------------------------------------------------

SQL_TYPES = {TextField: "TEXT", IntegerField: "INTEGER", FloatField: "REAL"}


def test_every_table_and_view_has_a_model(store: Store) -> None:
    for kind, models in (("table", ALL_TABLES), ("view", ALL_VIEWS)):
        rows = store.db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%'", (kind,)
        ).fetchall()
        assert {name for (name,) in rows} - set(INDEX_TABLES) == {model._meta.table_name for model in models}, kind


@pytest.mark.parametrize("model", ALL_TABLES + ALL_VIEWS, ids=lambda m: m._meta.table_name)
def test_model_matches_migrated_table(store: Store, model: Any) -> None:
    table = model._meta.table_name
    info = store.db.execute_sql(f"PRAGMA table_info({table})").fetchall()
    # cid, name, type, notnull, default, pk
    columns = {
        name: (sql_type, bool(notnull), pk) for _cid, name, sql_type, notnull, _default, pk in info
    }
    fields = {field.column_name: field for field in model._meta.sorted_fields}
    assert list(fields) == [name for _cid, name, *_ in info], f"{table}: columns differ"
    view = model in ALL_VIEWS  # a view has no key and reports every column as nullable
    pk = model._meta.primary_key
    pk_names = list(pk.field_names) if hasattr(pk, "field_names") else [pk.column_name]
    if not view:
        assert [
            name
            for name, (_t, _n, position) in sorted(columns.items(), key=lambda c: c[1][2])
            if position
        ] == pk_names
    for name, field in fields.items():
        sql_type, notnull, position = columns[name]
        assert sql_type == SQL_TYPES[type(field)], f"{table}.{name} type"
        if not position and not view:  # SQLite reports rowid-table primary keys as nullable
            assert notnull == (not field.null), f"{table}.{name} nullability"


# -- create_run -------------------------------------------------------------------------


def test_create_run_inserts_run_steps_and_event(store: Store) -> None:
    make_run(store, "r-1", ["a", "b", "c"], now=100.0)
    run = queries.get_run("r-1")
    assert (run.state, run.total_steps, run.max_parallel, run.created_at) == (
        "pending",
        3,
        2,
        100.0,
    )
    assert queries.run_spec("r-1") == {"name": "demo"}
    steps = queries.steps("r-1")
    assert [(s.id, s.state, s.needs) for s in steps] == [
        ("a", "pending", []),
        ("b", "pending", ["a"]),
        ("c", "pending", ["a", "b"]),
    ]
    assert steps[2].spec == {"id": "c"}
    events = queries.events_after(0, "r-1")
    assert [(e.kind, e.ts, e.data) for e in events] == [
        ("run.created", 100.0, {"workstream": "demo", "steps": 3})
    ]


def test_create_run_is_atomic(store: Store) -> None:
    with pytest.raises((sqlite3.IntegrityError, StoreError)):
        make_run(store, "r-dup", ["a", "a"])  # duplicate step id fails after the run row
    with pytest.raises(NoSuchRecord):
        queries.get_run("r-dup")
    assert queries.steps("r-dup") == []
    assert queries.events_after(0) == []
    make_run(store, "r-dup")  # nothing was left behind to collide with
    assert queries.get_run("r-dup").total_steps == 2


# -- the writer -------------------------------------------------------------------------


def event(kind: str, run_id: str | None = None) -> ops.Statement:
    return ops.insert_event(time.time(), kind, run_id, None, {"n": kind})


def test_writer_commits_units_in_order(store: Store) -> None:
    for index in range(200):
        store.submit([event(f"e{index}")])
    # Order matters for statements that depend on each other, not just for seq.
    store.submit([("INSERT INTO meta (key, value) VALUES ('order', 'a')", ())])
    store.submit([("UPDATE meta SET value = value || 'b' WHERE key = 'order'", ())])
    store.submit([("UPDATE meta SET value = value || 'c' WHERE key = 'order'", ())])
    store.sync()
    events = queries.events_after(0)
    assert [e.kind for e in events] == [f"e{index}" for index in range(200)]
    seqs = [e.seq for e in events]
    assert all(a < b for a, b in zip(seqs, seqs[1:], strict=False))
    assert store.db.execute_sql("SELECT value FROM meta WHERE key = 'order'").fetchone() == ("abc",)


def test_sync_waits_for_commit(store: Store) -> None:
    store.submit([event("one"), event("two")])
    store.sync()
    assert [e.kind for e in queries.events_after(0)] == ["one", "two"]
    store.sync()  # nothing pending: returns at once


def test_a_failing_unit_is_left_out_whole_and_the_rest_of_the_batch_commits(store: Store) -> None:
    """A unit that breaks a constraint is written by no half: an event says it was dropped, and
    the writer goes on with the batch's other units and with later ones (test_writer_faults)."""
    async def engine_writes() -> None:
        # Inside an event loop units gather for the commit window, so these land in one batch.
        store.submit([("INSERT INTO meta (key, value) VALUES ('gate', 'open')", ())])
        store.submit([event("good")])
        store.submit(
            [
                event("bad-first-half"),
                ("INSERT INTO meta (key, value) VALUES ('schema_version', 'duplicate')", ()),
            ]
        )
        store.sync()

    asyncio.run(engine_writes())
    store.submit([event("after")])
    assert [e.kind for e in queries.events_after(0)] == ["good", "store.unit_dropped", "after"]
    assert store.db.execute_sql("SELECT value FROM meta WHERE key = 'gate'").fetchone() == ("open",)


def test_units_gather_for_the_commit_window_inside_a_loop(store: Store) -> None:
    async def engine_writes() -> tuple[int, int]:
        for index in range(50):
            store.submit([event(f"e{index}")])
        before = len(queries.events_after(0))
        await asyncio.sleep(writer_module.COMMIT_WINDOW_SECONDS * 5)
        return before, len(queries.events_after(0))

    before, after = asyncio.run(engine_writes())
    assert (before, after) == (0, 50)
    assert store.writer.commits == 1


def test_a_worker_declared_lost_is_fenced_off(store: Store, db_path: Path) -> None:
    """Once another engine has declared a worker lost, nothing more is written for it (what it
    had queued included), its late heartbeat does not revive it, and ``holds`` says so; writes
    for no worker and for other workers still commit. A live worker's lease is renewed."""
    store.register_worker("old", 1, "host")
    store.register_worker("alive", 2, "host")
    writer = store.writer
    writer.lease("old")
    writer.lease("alive")
    assert writer.holds("old")  # a fresh lease costs no query

    async def engine_writes() -> None:
        store.submit([event("queued-before-the-takeover")], "old")
        store.submit([ops.heartbeat("old", "busy", time.time())], "old")
        store.submit([event("for-nobody")])
        store.submit([event("for-another-worker")], "alive")
        with sqlite3.connect(db_path) as other:  # the other engine's takeover
            other.execute("UPDATE workers SET state = 'lost', heartbeat_at = 0 WHERE id = 'old'")
            other.execute("UPDATE workers SET heartbeat_at = 0 WHERE id = 'alive'")
        writer._renewed_at -= writer_module.LEASE_SECONDS + 1  # this process was away for a while
        assert not writer.holds("old")
        assert writer.holds("alive")
        store.submit([event("after-the-takeover")], "old")
        store.sync()

    asyncio.run(engine_writes())
    assert [e.kind for e in queries.events_after(0) if e.kind not in ("worker.started",)] == [
        "for-nobody", "for-another-worker"]
    rows = dict(store.db.execute_sql("SELECT id, state FROM workers").fetchall())
    assert rows == {"old": "lost", "alive": "starting"}
    beat = store.db.execute_sql("SELECT heartbeat_at FROM workers WHERE id = 'alive'").fetchone()[0]
    assert beat > time.time() - 5  # renewed by the commit that found "old" lost


def test_execute_now_commits_on_the_caller_thread(store: Store) -> None:
    store.submit([event("queued")])
    store.execute_now([event("now")])
    assert [e.kind for e in queries.events_after(0)] == ["queued", "now"]


# -- resolve_run_id ---------------------------------------------------------------------


@pytest.fixture
def runs(store: Store) -> Store:
    for run_id in (
        "abc-111",
        "abc-222",
        "abd-333",
        "x_y-444",
        "xzy-555",
        "p%q-666",
        "pzq-777",
        "q\\r-888",
    ):
        make_run(store, run_id)
    return store


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("abc-111", "abc-111"),
        ("abd", "abd-333"),
        ("abc-2", "abc-222"),
        ("x_", "x_y-444"),
        ("xz", "xzy-555"),
        ("p%", "p%q-666"),
        ("pz", "pzq-777"),
        ("q\\", "q\\r-888"),
    ],
)
def test_resolve_run_id(runs: Store, prefix: str, expected: str) -> None:
    assert queries.resolve_run_id(prefix) == expected


def test_resolve_exact_id_wins_over_longer_ids(store: Store) -> None:
    make_run(store, "r1")
    make_run(store, "r10")
    assert queries.resolve_run_id("r1") == "r1"


def test_resolve_ambiguous_prefix_lists_candidates(runs: Store) -> None:
    with pytest.raises(NoSuchRecord) as info:
        queries.resolve_run_id("abc")
    message = str(info.value)
    assert "abc-111" in message and "abc-222" in message
    assert "abd-333" not in message


@pytest.mark.parametrize("prefix", ["zzz", "%", "_", "a%", "ab_", "x%y", ""])
def test_resolve_unknown_prefix(runs: Store, prefix: str) -> None:
    """``%`` and ``_`` are literal characters, not LIKE wildcards."""
    with pytest.raises(NoSuchRecord):
        queries.resolve_run_id(prefix)


def test_resolve_unknown_prefix_says_what_to_do(runs: Store) -> None:
    with pytest.raises(NoSuchRecord, match="uet runs"):
        queries.resolve_run_id("zzz")


# -- claim_run --------------------------------------------------------------------------


def test_claim_run_free_run(store: Store) -> None:
    make_run(store, "r-1")
    store.register_worker("w1", os.getpid(), "here")
    assert store.claim_run("r-1", "w1", lambda _w: pytest.fail("no owner to check")) is None
    assert queries.get_run("r-1").worker_id == "w1"
    assert store.claim_run("r-1", "w1", lambda _w: pytest.fail("own run")) is None


def test_claim_run_owned_by_a_live_worker(store: Store) -> None:
    make_run(store, "r-1")
    store.register_worker("w1", os.getpid(), "here")
    store.claim_run("r-1", "w1", lambda _w: False)
    checked: list[WorkerRecord] = []

    def alive(worker: WorkerRecord) -> bool:
        checked.append(worker)
        return False

    with pytest.raises(RunOwned) as info:
        store.claim_run("r-1", "w2", alive)
    assert [(w.id, w.pid) for w in checked] == [("w1", os.getpid())]
    assert info.value.worker.id == "w1"
    assert f"pid {os.getpid()}" in str(info.value) and "uet cancel" in str(info.value)
    assert queries.get_run("r-1").worker_id == "w1"


def test_claim_run_takes_over_from_a_lost_worker(store: Store) -> None:
    make_run(store, "r-1")
    store.register_worker("w1", os.getpid(), "here")
    store.claim_run("r-1", "w1", lambda _w: False)
    after = queries.max_event_seq()
    assert store.claim_run("r-1", "w2", lambda _w: True) == "w1"
    assert queries.get_run("r-1").worker_id == "w2"
    worker = queries.get_worker("w1")
    assert worker is not None and worker.state == "lost"
    lost = queries.events_after(after, "r-1")
    assert [(e.kind, e.data) for e in lost] == [
        ("worker.lost", {"worker": "w1", "pid": os.getpid()})
    ]


def test_claim_unknown_run(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.claim_run("nope", "w1", lambda _w: False)


# -- commands ---------------------------------------------------------------------------


def test_command_lifecycle(store: Store) -> None:
    make_run(store, "r-1")
    command_id = store.insert_command("r-1", "retry", {"step": "a"}, "tester")
    command = queries.get_command(command_id)
    assert (command.kind, command.args, command.created_by, command.claimed_by) == (
        "retry",
        {"step": "a"},
        "tester",
        None,
    )
    created = queries.events_after(0, "r-1")[-1]
    assert (created.kind, created.step_id) == ("command.created", "a")
    assert created.data == {"id": command_id, "command": "retry", "by": "tester", "step": "a"}
    assert [c.id for c in queries.open_commands(["r-1"])] == [command_id]

    assert store.claim_command(command_id, "w1") is True
    assert store.claim_command(command_id, "w2") is False
    assert queries.get_command(command_id).claimed_by == "w1"

    store.finish_command(command_id, "ok")
    store.sync()
    done = queries.get_command(command_id)
    assert done.result == "ok" and done.done_at is not None
    assert queries.open_commands(["r-1"]) == []


def test_requests_no_engine_took_are_answered_not_carried_out(store: Store) -> None:
    """An engine giving a run up answers the requests it never took, and one taking a run over
    answers those left for its predecessor: a later engine never carries out a stale request.
    Taken requests, other runs' requests and a release by a worker that no longer owns the run
    are left alone."""
    make_run(store, "r-1")
    make_run(store, "r-2")
    store.register_worker("w1", 1, "host")
    store.register_worker("w2", 2, "host")
    lost = lambda worker: True  # noqa: E731 - every previous owner counts as gone here
    store.claim_run("r-1", "w1", lost)
    taken = store.insert_command("r-1", "cancel", {}, "tester")
    assert store.claim_command(taken, "w1")
    late = store.insert_command("r-1", "retry", {"step": "a"}, "tester")
    other_run = store.insert_command("r-2", "pause", {}, "tester")
    store.release_run("r-1", "w2")  # not the owner: changes nothing
    store.sync()
    assert queries.get_command(late).done_at is None
    store.release_run("r-1", "w1")
    store.sync()
    assert queries.get_command(late).result == ops.NOT_CARRIED_OUT
    assert queries.get_command(taken).done_at is None and queries.get_command(other_run).done_at is None

    left = store.insert_command("r-1", "pause", {}, "tester")  # asked while no engine owned it
    store.claim_run("r-1", "w2", lost)
    assert queries.get_command(left).result == ops.NOT_CARRIED_OUT
    assert [c.id for c in queries.open_commands(["r-1"])] == [taken]


def test_open_commands_cover_every_run_asked_about(store: Store) -> None:
    """A process hosting more runs than fit in one IN list still sees every run's commands,
    oldest first."""
    make_run(store, "r-late")
    make_run(store, "r-early")
    first = store.insert_command("r-late", "cancel", {}, "tester")
    second = store.insert_command("r-early", "cancel", {}, "tester")
    ids = [f"r-missing-{i}" for i in range(queries._CHUNK)] + ["r-late"]
    ids.insert(0, "r-early")
    assert [c.id for c in queries.open_commands(ids)] == [first, second]
    assert [c.run_id for c in queries.open_commands(ids, after_id=first)] == ["r-early"]


def test_cost_totals_cover_every_run_asked_about(store: Store) -> None:
    """Totals over more runs than fit in one IN list are summed across the chunks, not cut off
    at the first chunk."""
    ids = [f"r-{i:03d}" for i in range(queries._CHUNK + 2)]
    for run_id in ids:
        make_run(store, run_id, steps=["a"])
    rows = [(run_id, "a", 1, "sim" if i % 2 else "llm", "succeeded", 1.0, 2.0, 1.0, 10, 5, None if i == 0 else 0.5)
            for i, run_id in enumerate(ids)]
    store.db.connection().executemany(
        "INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, duration, tokens_in, "
        "tokens_out, usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    by_run = queries.cost_totals(("run_id",), run_ids=reversed(ids))
    assert [t.key["run_id"] for t in by_run] == ids
    assert by_run[-1].tokens_in == 10 and by_run[0].unpriced == 1 and by_run[-1].usd == 0.5
    by_tool = {t.key["tool"]: t for t in queries.cost_totals(("tool",), run_ids=ids)}
    assert by_tool["llm"].attempts == by_tool["sim"].attempts == len(ids) // 2
    assert by_tool["llm"].unpriced == 1 and by_tool["llm"].usd == 0.5 * (len(ids) // 2 - 1)
    (everything,) = queries.cost_totals((), run_ids=ids)
    assert everything.attempts == len(ids) and everything.tokens_out == 5 * len(ids)
    assert queries.cost_totals((), run_ids=[]) == []


def test_unknown_command(store: Store) -> None:
    with pytest.raises(NoSuchRecord):
        queries.get_command(404)


# -- events_after and the cursor --------------------------------------------------------


def test_events_after_filters_by_run_and_limits(store: Store) -> None:
    make_run(store, "r-1")
    make_run(store, "r-2")
    store.execute_now(
        [event(f"r1-{n}", "r-1") for n in range(5)] + [event("r2-0", "r-2"), event("global")]
    )
    everything = queries.events_after(0)
    assert len(everything) == 9
    only_r1 = queries.events_after(0, "r-1")
    assert [e.kind for e in only_r1] == ["run.created"] + [f"r1-{n}" for n in range(5)]
    assert [e.kind for e in queries.events_after(0, "r-1", limit=2)] == ["run.created", "r1-0"]
    assert [e.kind for e in queries.events_after(only_r1[2].seq, "r-1", limit=2)] == [
        "r1-2",
        "r1-3",
    ]
    assert [e.kind for e in queries.events_after(everything[-2].seq)] == ["global"]
    assert queries.events_after(everything[-1].seq) == []


def test_event_cursor_reads_only_new_events(store: Store) -> None:
    make_run(store, "r-1")
    make_run(store, "r-2")
    cursor = EventCursor(run_id="r-1")
    assert [e.kind for e in cursor.read()] == ["run.created"]
    assert cursor.read() == []
    store.execute_now([event("r2-x", "r-2"), event("r1-x", "r-1")])
    assert [e.kind for e in cursor.read()] == ["r1-x"]
    assert cursor.read() == []

    everything = EventCursor()
    assert len(everything.read(limit=2)) == 2
    assert [e.kind for e in everything.read()] == ["r2-x", "r1-x"]


# -- the change feed --------------------------------------------------------------------

WRITE_EVENT = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1])
with conn:
    conn.execute("INSERT INTO events (ts, kind) VALUES (?, 'external.write')", (time.time(),))
conn.close()
"""


async def next_matching(
    changes: AsyncIterator[bool], wanted: Callable[[bool], bool], within: float
) -> float:
    """Seconds until ``changes`` yields a value ``wanted`` accepts; fails after ``within``."""
    start = time.monotonic()
    deadline = start + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the change feed did not yield the expected value within {within}s")
        try:
            value = await asyncio.wait_for(anext(changes), left)
        except TimeoutError:
            pytest.fail(f"the change feed did not yield the expected value within {within}s")
        if wanted(value):
            return time.monotonic() - start


async def feed_sees_other_process(feed: ChangeFeed, db_path: Path) -> float:
    stop = asyncio.Event()
    changes = feed.changes(stop)
    try:
        # A quiet tick proves the feed has its baseline (watch or file signature) before we write.
        await next_matching(changes, lambda changed: not changed, 3.0)
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", WRITE_EVENT, str(db_path)], check=True
        )
        return await next_matching(changes, lambda changed: changed, 2.0)
    finally:
        stop.set()
        await asyncio.wait_for(_drain(changes), 3.0)


async def _drain(changes: AsyncIterator[bool]) -> None:
    async for _ in changes:
        pass


@pytest.mark.slow
@pytest.mark.parametrize("force_polling", [False, True], ids=["watching", "polling"])
def test_change_feed_wakes_on_another_process_write(
    store: Store, db_path: Path, force_polling: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UET_FEED_POLL", raising=False)
    feed = ChangeFeed(db_path, tick=0.2, poll_interval=0.05, force_polling=force_polling)
    cursor = EventCursor(after=queries.max_event_seq())
    waited = asyncio.run(feed_sees_other_process(feed, db_path))
    assert waited < 2.0
    assert feed.mode == ("polling" if force_polling else "watching")
    assert [e.kind for e in cursor.read()] == ["external.write"]


def test_change_feed_polling_yields_false_on_quiet_ticks(store: Store, db_path: Path) -> None:
    async def two_ticks() -> list[bool]:
        stop = asyncio.Event()
        changes = ChangeFeed(db_path, tick=0.05, poll_interval=0.01, force_polling=True).changes(
            stop
        )
        seen = [await asyncio.wait_for(anext(changes), 3.0) for _ in range(2)]
        stop.set()
        await asyncio.wait_for(_drain(changes), 3.0)
        return seen

    assert asyncio.run(two_ticks()) == [False, False]

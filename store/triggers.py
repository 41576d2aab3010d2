"""Triggers in the store: fires, each trigger's paused flag, and the lease of the one server
(``uet serve``) a project may have (migration 9, with the writes and reads they need).

A fire is recorded in one transaction with its event, under a unique key (workstream,
trigger, due time), before its run is created: a second server, or the same one restarted
after ``kill -9``, that tries to record the same fire gets nothing back and does not start it
again. The run of a fire has an id derived from the fire's id (``fire_run_id``), so a server
that died between creating the run and noting it on the fire finds that run instead of
making a second one.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from peewee import SqliteDatabase

from schemas.triggers import FireRecord, ServeLease, TriggerStateRecord
from store import ops
from store.codec import dumps
from store.tables import database

if TYPE_CHECKING:
    from store.store import Store

#: The most fires ``fires`` returns, newest first.
FIRE_LIMIT = 500
#: The longest reason kept with a fire (a list of changed files is cut to this).
REASON_CHARS = 500


def migrate_triggers(db: SqliteDatabase) -> None:
    """Migration 9, frozen: fires, trigger state and the serve lease."""
    for statement in (
        """CREATE TABLE fires (
            id INTEGER PRIMARY KEY,
            workstream TEXT NOT NULL,
            trigger TEXT NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            due_at REAL NOT NULL,
            fired_at REAL NOT NULL,
            run_id TEXT,
            state TEXT NOT NULL DEFAULT 'pending',
            outcome TEXT,
            data TEXT NOT NULL DEFAULT '{}',
            UNIQUE (workstream, trigger, due_at)
        )""",
        "CREATE INDEX fires_open ON fires (state, id)",
        "CREATE INDEX fires_trigger ON fires (workstream, trigger, id)",
        """CREATE TABLE trigger_state (
            workstream TEXT NOT NULL,
            trigger TEXT NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0,
            changed_by TEXT,
            changed_at REAL,
            PRIMARY KEY (workstream, trigger)
        ) WITHOUT ROWID""",
        """CREATE TABLE serve_lease (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            worker_id TEXT NOT NULL,
            since REAL NOT NULL,
            root TEXT NOT NULL
        )""",
    ):
        db.execute_sql(statement)


def fire_run_id(fire_id: int, workstream: str, trigger: str) -> str:
    """The id of the run a fire makes: the same for the same fire, in every process."""
    return hashlib.sha256(f"fire:{fire_id}:{workstream}:{trigger}".encode()).hexdigest()[:12]


_FIRE_COLUMNS = "id, workstream, trigger, kind, reason, due_at, fired_at, run_id, state, outcome, data"


def _fire(row: tuple[Any, ...]) -> FireRecord:
    values = dict(zip(_FIRE_COLUMNS.split(", "), row, strict=True))
    values["data"] = json.loads(values["data"] or "{}")
    return FireRecord.model_validate(values)


# -- writes ---------------------------------------------------------------------------------


def record_fire(store: Store, *, workstream: str, trigger: str, kind: str, reason: str, due_at: float,
                data: dict[str, Any] | None = None, now: float | None = None) -> int | None:
    """Record a fire and its ``trigger.fired`` event in one transaction. Returns the fire's id,
    or None when this fire (same workstream, trigger and due time) was recorded before."""
    ts = time.time() if now is None else now
    reason = reason[:REASON_CHARS]
    store.sync()
    conn = store.db.connection()
    with store._writing():  # noqa: SLF001 - the store's own transaction, from inside the store package
        cursor = conn.execute(
            "INSERT OR IGNORE INTO fires (workstream, trigger, kind, reason, due_at, fired_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (workstream, trigger, kind, reason, due_at, ts, dumps(data or {})))
        if cursor.rowcount != 1:
            return None
        fire_id = int(cursor.lastrowid or 0)
        conn.execute(*ops.insert_event(ts, "trigger.fired", None, None, {
            "fire": fire_id, "workstream": workstream, "trigger": trigger, "kind": kind, "reason": reason}))
    return fire_id


def set_fire(store: Store, fire_id: int, *, state: str, run_id: str | None = None, outcome: str | None = None,
             event: tuple[str, dict[str, Any]] | None = None) -> None:
    """Move a fire on (queued, running with its run, done with its outcome), with an event."""
    unit: list[tuple[str, tuple[Any, ...]]] = [(
        "UPDATE fires SET state = ?, run_id = COALESCE(?, run_id), outcome = COALESCE(?, outcome) WHERE id = ?",
        (state, run_id, outcome, fire_id))]
    if event is not None:
        kind, data = event
        unit.append(ops.insert_event(time.time(), kind, run_id, None, {"fire": fire_id, **data}))
    store.execute_now(unit)


def record_event(store: Store, kind: str, data: dict[str, Any]) -> None:
    """A trigger event that changes no fire (a missed schedule, an invalid edit, a reload)."""
    store.execute_now([ops.insert_event(time.time(), kind, None, None, data)])


def set_paused(store: Store, workstream: str, trigger: str, paused: bool, by: str) -> bool:
    """Pause or resume a trigger; returns whether that changed anything."""
    ts = time.time()
    found = store.execute_if(
        "SELECT COALESCE((SELECT paused FROM trigger_state WHERE workstream = ? AND trigger = ?), 0)",
        (workstream, trigger), int(not paused), [
            ("INSERT INTO trigger_state (workstream, trigger, paused, changed_by, changed_at) VALUES (?, ?, ?, ?, ?) "
             "ON CONFLICT (workstream, trigger) DO UPDATE SET paused = excluded.paused, "
             "changed_by = excluded.changed_by, changed_at = excluded.changed_at",
             (workstream, trigger, int(paused), by, ts)),
            ops.insert_event(ts, "trigger.paused" if paused else "trigger.resumed", None, None,
                             {"workstream": workstream, "trigger": trigger, "by": by}),
        ])
    return found == int(not paused)


def take_lease(store: Store, worker_id: str, root: str, holder_lost: Any) -> ServeLease | None:
    """Make ``worker_id`` the project's server. Returns the lease of the live server that holds
    it instead (nothing changed), or None when this one took it. ``holder_lost(worker_id)``
    says whether the present holder is gone."""
    conn = store.db.connection()
    store.sync()
    with store._writing():  # noqa: SLF001
        row = conn.execute("SELECT worker_id, since, root FROM serve_lease WHERE id = 1").fetchone()
        if row is not None and row[0] != worker_id and not holder_lost(row[0]):
            return ServeLease(worker_id=row[0], since=row[1], root=row[2])
        conn.execute("INSERT OR REPLACE INTO serve_lease (id, worker_id, since, root) VALUES (1, ?, ?, ?)",
                     (worker_id, time.time(), root))
    return None


def drop_lease(store: Store, worker_id: str) -> None:
    store.execute_now([("DELETE FROM serve_lease WHERE id = 1 AND worker_id = ?", (worker_id,))])


# -- reads ----------------------------------------------------------------------------------


def _rows(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    try:
        return list(database.execute_sql(sql, params).fetchall())
    except sqlite3.OperationalError:
        return []


def get_fire(fire_id: int) -> FireRecord | None:
    rows = _rows(f"SELECT {_FIRE_COLUMNS} FROM fires WHERE id = ?", (fire_id,))
    return _fire(rows[0]) if rows else None


#: The states of a fire not done, searched in the index fires_open (``state != 'done'`` read every
#: fire ever recorded: 80 ms at half a million, on each start of the server).
OPEN_STATES = ("pending", "queued", "running")


def open_fires() -> list[FireRecord]:
    """Fires not done (pending, queued, running), oldest first: what a server carries out."""
    marks = ", ".join("?" * len(OPEN_STATES))
    return [_fire(r) for r in _rows(f"SELECT {_FIRE_COLUMNS} FROM fires WHERE state IN ({marks}) ORDER BY id",
                                    OPEN_STATES)]


def fires(workstream: str | None = None, trigger: str | None = None, limit: int = FIRE_LIMIT) -> list[FireRecord]:
    """Fires newest first, of one trigger when named."""
    where, params = "", ()
    if workstream is not None and trigger is not None:
        where, params = "WHERE workstream = ? AND trigger = ?", (workstream, trigger)
    rows = _rows(f"SELECT {_FIRE_COLUMNS} FROM fires {where} ORDER BY id DESC LIMIT ?", (*params, limit))
    return [_fire(r) for r in rows]


def last_fires(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], FireRecord]:
    """The newest fire of each trigger named by (workstream, trigger): one search of the index
    fires_trigger each, not a pass over every fire ever recorded (135 ms at half a million, on
    each look at the triggers)."""
    out = {}
    for workstream, trigger in keys:
        rows = _rows(f"SELECT {_FIRE_COLUMNS} FROM fires WHERE workstream = ? AND trigger = ? ORDER BY id DESC LIMIT 1",
                     (workstream, trigger))
        if rows:
            out[(workstream, trigger)] = _fire(rows[0])
    return out


def last_due(workstream: str, trigger: str) -> float | None:
    """The due time of the trigger's latest fire (a schedule's last slot)."""
    rows = _rows("SELECT MAX(due_at) FROM fires WHERE workstream = ? AND trigger = ? AND kind != 'manual'",
                 (workstream, trigger))
    return rows[0][0] if rows else None


def trigger_states() -> dict[tuple[str, str], TriggerStateRecord]:
    rows = _rows("SELECT workstream, trigger, paused, changed_by, changed_at FROM trigger_state")
    return {(r[0], r[1]): TriggerStateRecord(workstream=r[0], trigger=r[1], paused=bool(r[2]), changed_by=r[3],
                                             changed_at=r[4]) for r in rows}


def is_paused(workstream: str, trigger: str) -> bool:
    rows = _rows("SELECT paused FROM trigger_state WHERE workstream = ? AND trigger = ?", (workstream, trigger))
    return bool(rows and rows[0][0])


def lease() -> ServeLease | None:
    rows = _rows("SELECT worker_id, since, root FROM serve_lease WHERE id = 1")
    return ServeLease(worker_id=rows[0][0], since=rows[0][1], root=rows[0][2]) if rows else None

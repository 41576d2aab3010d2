"""The one writer: every engine write goes through a background thread that commits whatever
has queued up in a single transaction (group commit).

A *unit* (a list of statements) is never split across transactions, so a state change and its
event always land together. Units commit in the order they were submitted, so what a crash
leaves behind is always a prefix of what the engine did.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from peewee import SqliteDatabase

from store.errors import StoreError

Statement = tuple[str, Sequence[Any]]


class RowImage(NamedTuple):
    """The full new content of one row. Within a commit, images of the same row replace each
    other and only the newest is written, so a step that moves ready → running → succeeded
    between two commits costs one row write, while each move still has its own event."""

    sql: str
    key: tuple[Any, ...]
    params: Sequence[Any]


EVENT_SQL = "INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, ?, ?, ?)"
Unit = Sequence[Statement | RowImage]

MAX_UNITS_PER_COMMIT = 20_000
#: How long the writer lets work gather before committing (group commit). It bounds how stale
#: another process's view can be, and keeps the writer thread from waking (and taking the GIL
#: from the engine) for every single state change.
COMMIT_WINDOW_SECONDS = 0.01
_STOP = object()


class Writer:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._urgent = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="uet-writer", daemon=True)
        self.commits = 0
        self.statements = 0
        self._thread.start()

    def submit(self, unit: Unit) -> None:
        """Queue statements that must commit together; returns at once."""
        if self._error is not None:
            raise StoreError(f"the store writer stopped: {self._error}") from self._error
        self._queue.put(unit)

    def sync(self, timeout: float = 60.0) -> None:
        """Block until everything submitted before this call is committed."""
        done = threading.Event()
        self.submit(done)  # type: ignore[arg-type]
        self._urgent.set()
        if not done.wait(timeout):
            raise StoreError(f"the store writer did not commit within {timeout:.0f}s")
        if self._error is not None:
            raise StoreError(f"the store writer stopped: {self._error}") from self._error

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._urgent.set()
            self._thread.join()

    def _loop(self) -> None:
        conn = self._db.connection()
        try:
            while True:
                first = self._queue.get()
                if first is not _STOP and not isinstance(first, threading.Event):
                    self._urgent.wait(COMMIT_WINDOW_SECONDS)
                self._urgent.clear()
                batch = [first]
                while len(batch) < MAX_UNITS_PER_COMMIT:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is _STOP for item in batch)
                units = [item for item in batch if item is not _STOP and not isinstance(item, threading.Event)]
                waiters = [item for item in batch if isinstance(item, threading.Event)]
                if units and self._error is None:
                    try:
                        self._commit(conn, units)
                    except BaseException as exc:  # noqa: BLE001 - surfaced through submit/sync
                        self._error = exc
                for waiter in waiters:
                    waiter.set()
                if stop:
                    return
        finally:
            self._db.close()

    def _commit(self, conn: sqlite3.Connection, units: list[Unit]) -> None:
        for attempt in range(50):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(min(0.05 * (attempt + 1), 0.5))
        else:
            raise StoreError("the database stayed locked by another process")
        try:
            # Plain statements keep their order; row images then bring rows to their newest
            # state; events go last, in order. All of it is one transaction, so readers see the
            # rows and the events that explain them together.
            sql: str | None = None
            rows: list[Sequence[Any]] = []
            images: dict[str, dict[tuple[Any, ...], Sequence[Any]]] = {}
            events: list[Sequence[Any]] = []
            count = 0
            for unit in units:
                for item in unit:
                    if type(item) is RowImage:
                        found = images.get(item.sql)
                        if found is None:
                            found = images[item.sql] = {}
                        found[item.key] = item.params
                        continue
                    statement, params = item
                    if statement == EVENT_SQL:
                        events.append(params)
                        continue
                    if statement != sql:
                        if rows:
                            conn.executemany(sql, rows)  # type: ignore[arg-type]
                        sql, rows = statement, []
                    rows.append(params)
                    count += 1
            if rows:
                conn.executemany(sql, rows)  # type: ignore[arg-type]
            for image_sql, by_key in images.items():
                conn.executemany(image_sql, list(by_key.values()))
                count += len(by_key)
            if events:
                conn.executemany(EVENT_SQL, events)
                count += len(events)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.commits += 1
        self.statements += count

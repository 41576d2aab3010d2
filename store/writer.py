"""The one writer: the engine's writes gather for a few milliseconds and commit in a single
transaction (group commit).

A *unit* (a list of statements) is never split across transactions, so a state change and its
event always land together. Units commit in the order they were submitted, so what a crash
leaves behind is always a prefix of what the engine did.

The writer belongs to the thread that runs the engine's event loop and commits on that thread,
from a timer ``COMMIT_WINDOW_SECONDS`` after the first unit of a batch. A background thread was
measured to cost more than it saves: handing the GIL back and forth with the loop took longer
than the inserts themselves. Without a running loop (a command-line write) a unit commits at
once. SQLite's busy timeout covers another process holding the write lock for a moment.
"""

from __future__ import annotations

import asyncio
import sqlite3
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

#: How long work may gather before it commits. It bounds how stale another process's view can
#: be, and turns thousands of state changes a second into a few hundred commits.
COMMIT_WINDOW_SECONDS = 0.01
#: A batch this large commits at once, whatever the window says.
MAX_UNITS_PER_COMMIT = 5_000
#: How long a renewed lease is trusted before it is renewed again: well under the staleness
#: after which another engine may take a worker's runs over (engine.workers.STALE_SECONDS).
LEASE_SECONDS = 2.0


def _clock() -> float:
    """Seconds that keep counting while the machine sleeps (a suspended laptop's heartbeat goes
    stale in other processes' eyes just the same)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


if not hasattr(time, "CLOCK_BOOTTIME"):  # pragma: no cover - not Linux
    _clock = time.monotonic  # noqa: F811


class Writer:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._pending: list[tuple[str | None, Unit]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._error: BaseException | None = None
        self.commits = 0
        self.statements = 0
        #: Workers this writer writes for, and those found declared lost (their units are dropped).
        self.leases: set[str] = set()
        self.fenced: set[str] = set()
        self._renewed_at = _clock()

    def submit(self, unit: Unit, owner: str | None = None) -> None:
        """Queue statements that must commit together; they commit within the window. A unit
        written for a worker (``owner``) is dropped if that worker has been declared lost."""
        if self._error is not None:
            raise StoreError(f"the store writer stopped: {self._error}") from self._error
        self._pending.append((owner, unit))
        if len(self._pending) >= MAX_UNITS_PER_COMMIT:
            self._flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._flush()
                return
            self._timer = loop.call_later(COMMIT_WINDOW_SECONDS, self._flush)

    def lease(self, owner: str) -> None:
        """Write for ``owner`` from now on, renewing its heartbeat as the fence requires."""
        self.leases.add(owner)

    def release(self, owner: str) -> None:
        self.leases.discard(owner)

    def holds(self, owner: str) -> bool:
        """May ``owner`` still act (start a child, take a decision)? Free while its lease is
        fresh; otherwise the lease is renewed first, with whatever is queued."""
        if owner in self.fenced:
            return False
        if _clock() - self._renewed_at <= LEASE_SECONDS:
            return True
        self._flush(renew=True)
        if self._error is not None:
            raise StoreError(f"the store writer stopped: {self._error}") from self._error
        return owner not in self.fenced

    def sync(self, timeout: float = 60.0) -> None:
        """Commit everything submitted so far, now."""
        self._flush()
        if self._error is not None:
            raise StoreError(f"the store writer stopped: {self._error}") from self._error

    def close(self) -> None:
        self._flush()

    def _flush(self, renew: bool = False) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if (not self._pending and not renew) or self._error is not None:
            return
        units, self._pending = self._pending, []
        try:
            self._commit(self._db.connection(), units, renew)
        except BaseException as exc:  # noqa: BLE001 - surfaced through submit/sync
            self._error = exc

    def _renew(self, conn: sqlite3.Connection) -> None:
        """Inside the write transaction: learn which leased workers were declared lost, and
        renew the heartbeat of the others."""
        owners = sorted(self.leases - self.fenced)
        now = _clock()
        if owners:
            marks = ", ".join("?" * len(owners))
            lost = conn.execute(f"SELECT id FROM workers WHERE state = 'lost' AND id IN ({marks})", owners)
            self.fenced.update(row[0] for row in lost.fetchall())
            alive = [owner for owner in owners if owner not in self.fenced]
            if alive:
                conn.execute(f"UPDATE workers SET heartbeat_at = ? WHERE id IN ({', '.join('?' * len(alive))})",
                             (time.time(), *alive))
        self._renewed_at = now

    def _commit(self, conn: sqlite3.Connection, units: list[tuple[str | None, Unit]], renew: bool = False) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to the database: {exc}") from exc
        try:
            if self.leases and (renew or _clock() - self._renewed_at > LEASE_SECONDS):
                self._renew(conn)
            fenced = self.fenced
            # Plain statements keep their order; row images then bring rows to their newest
            # state; events go last, in order. All of it is one transaction, so readers see the
            # rows and the events that explain them together.
            sql: str | None = None
            rows: list[Sequence[Any]] = []
            images: dict[str, dict[tuple[Any, ...], Sequence[Any]]] = {}
            events: list[Sequence[Any]] = []
            count = 0
            for owner, unit in units:
                if fenced and owner in fenced:
                    continue  # written by a worker another engine has declared lost
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

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

Two kinds of trouble are told apart. A value SQLite cannot bind (an integer past 64 bits, a
list, a lone surrogate) or a unit that breaks a constraint is the unit's fault: the batch is
committed again unit by unit, that unit's bad values become NULL or the unit is replaced by an
event saying so, and the rest commits. A database that stops taking writes (disk full,
read-only, I/O error, the file gone) is the store's fault: the writer stops, keeps the first
cause, and tells whoever watches it (the engine, which stops its children and ends).
"""

from __future__ import annotations

import contextlib
import re
import reprlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from peewee import SqliteDatabase

from store.codec import dumps
from store.errors import StoreError, StoreFailed

if TYPE_CHECKING:
    import asyncio

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

#: Errors that come from what one unit holds, not from the database: binding a value SQLite has
#: no type for, or breaking a constraint.
UNIT_ERRORS = (OverflowError, UnicodeEncodeError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
               sqlite3.DataError, sqlite3.IntegrityError)
_INT64 = 2**63
#: How much of a dropped value the event quotes.
_PREVIEW = 40


def _bindable(value: Any) -> bool:
    if value is None or isinstance(value, float | bytes):
        return True
    if isinstance(value, int):
        return -_INT64 <= value < _INT64
    if isinstance(value, str):
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    return False


def _preview(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    text = value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else reprlib.repr(value)
    return text[:_PREVIEW] + ("…" if len(text) > _PREVIEW else "")


def _columns(sql: str) -> list[str]:
    """The columns a statement's parameters go to, in order, where the statement says so
    plainly (``INSERT … (a, b) VALUES (?, ?)``, ``UPDATE … SET a = ?``); empty otherwise."""
    insert = re.match(r"\s*INSERT[\w ]*? INTO \w+ \(([^)]*)\) VALUES \(([?, ]*)\)", sql)
    if insert:
        return [c.strip() for c in insert.group(1).split(",")]
    if sql.lstrip().startswith("UPDATE") and "COALESCE" not in sql and "CASE" not in sql:
        return re.findall(r"(\w+) = \?", sql)
    return []


def _table(sql: str) -> str:
    found = re.search(r"(?:INTO|UPDATE|FROM)\s+(\w+)", sql)
    return found.group(1) if found else "?"


def store_fault(path: str, exc: BaseException) -> StoreFailed:
    """What a failed write means for the person at the terminal, naming the file; the cause is
    kept as ``__cause__``."""
    if isinstance(exc, StoreFailed):
        return exc
    if isinstance(exc, StoreError) and isinstance(exc.__cause__, sqlite3.Error):
        exc = exc.__cause__  # "cannot write to the database" from BEGIN: the cause says why
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL" or "disk is full" in str(exc):
        what = f"the disk holding the store {path} is full ({exc})"
    elif name.startswith("SQLITE_READONLY") or "readonly" in str(exc):
        what = f"the store {path} is read-only ({exc})"
    elif name.startswith("SQLITE_IOERR"):
        what = f"the store {path} cannot be written: {exc} ({name})"
    elif name == "SQLITE_BUSY" or "locked" in str(exc):
        what = f"the store {path} stayed locked by another process past the busy timeout ({exc})"
    else:
        what = f"the store {path} cannot be written: {type(exc).__name__}: {exc}"
    failed = StoreFailed(what)
    failed.__cause__ = exc
    return failed


class Writer:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._pending: list[tuple[str | None, Unit]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._error: StoreFailed | None = None
        self._watchers: list[Callable[[StoreFailed], None]] = []
        self.commits = 0
        self.statements = 0
        #: Units that could not be written as they were (see ``_commit_units``).
        self.repaired = 0
        #: Workers this writer writes for, and those found declared lost (their units are dropped).
        self.leases: set[str] = set()
        self.fenced: set[str] = set()
        self._renewed_at = _clock()

    @property
    def failed(self) -> StoreFailed | None:
        """Why the writer stopped, once it has; nothing is written from then on."""
        return self._error

    def watch(self, on_failure: Callable[[StoreFailed], None]) -> Callable[[], None]:
        """Call ``on_failure`` once, when the writer stops. While someone watches, later writes
        are dropped instead of raised: they come from the engine's callbacks, where an
        exception would only be printed, and the watcher is already ending the run."""
        self._watchers.append(on_failure)
        return lambda: self._watchers.remove(on_failure) if on_failure in self._watchers else None

    def fail(self, exc: BaseException) -> None:
        """Stop writing, for good, because of ``exc`` (kept as the cause); tell the watchers."""
        if self._error is not None:
            return
        self._error = store_fault(str(self._db.database), exc)
        self._pending.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for watcher in list(self._watchers):
            watcher(self._error)

    def submit(self, unit: Unit, owner: str | None = None) -> None:
        """Queue statements that must commit together; they commit within the window. A unit
        written for a worker (``owner``) is dropped if that worker has been declared lost."""
        if self._error is not None:
            if self._watchers:
                return
            raise self._error
        self._pending.append((owner, unit))
        if len(self._pending) >= MAX_UNITS_PER_COMMIT:
            self._flush()
        elif self._timer is None:
            import asyncio  # here, not with the module: the read commands import the store without it

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
            raise self._error
        return owner not in self.fenced

    def sync(self, timeout: float = 60.0) -> None:
        """Commit everything submitted so far, now."""
        self._flush()
        if self._error is not None:
            raise self._error

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
            conn = self._db.connection()
            try:
                self._commit(conn, units, renew)
            except UNIT_ERRORS:
                self._commit_units(conn, units)
        except BaseException as exc:  # noqa: BLE001 - surfaced through submit/sync and the watchers
            self.fail(exc)

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

    @staticmethod
    def _begin(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to the database: {exc}") from exc

    @staticmethod
    def rollback(conn: sqlite3.Connection) -> None:
        """Roll back what is still open. SQLite may already have rolled back by itself (a
        full disk at COMMIT does), and the ROLLBACK's own error ("no transaction is active")
        must not replace the cause being raised."""
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _commit(self, conn: sqlite3.Connection, units: list[tuple[str | None, Unit]], renew: bool = False) -> None:
        self._begin(conn)
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
            self.rollback(conn)
            raise
        self.commits += 1
        self.statements += count

    def _commit_units(self, conn: sqlite3.Connection, units: list[tuple[str | None, Unit]]) -> None:
        """The batch again, after one of its units could not be written: unit by unit, each in
        its own savepoint and in submission order (row images applied in order end as the
        merged ones would). Values SQLite cannot bind become NULL, with a ``store.values_dropped``
        event; a unit that still fails is replaced by a ``store.unit_dropped`` event. Only
        after a failure: the fast path stays one executemany per kind of statement."""
        self._begin(conn)
        try:
            if self.leases:
                self._renew(conn)
            count = 0
            for owner, unit in units:
                if self.fenced and owner in self.fenced:
                    continue
                scrubbed, dropped = self._scrub(unit)
                conn.execute("SAVEPOINT unit")
                try:
                    for sql, params in scrubbed:
                        conn.execute(sql, params)
                    count += len(scrubbed)
                except UNIT_ERRORS as exc:
                    conn.execute("ROLLBACK TO unit")
                    self._note(conn, unit, "store.unit_dropped", {
                        "error": f"{type(exc).__name__}: {str(exc)[:200]}",
                        "statements": sorted({_table(sql) for sql, _ in scrubbed}),
                        "reason": "this change could not be recorded; the rest of the run's record goes on"})
                    self.repaired += 1
                else:
                    if dropped:
                        self._note(conn, unit, "store.values_dropped", {
                            "values": dropped, "reason": "values the database cannot hold were recorded as NULL"})
                        self.repaired += 1
                conn.execute("RELEASE unit")
            conn.execute("COMMIT")
        except BaseException:
            self.rollback(conn)
            raise
        self.commits += 1
        self.statements += count

    @staticmethod
    def _scrub(unit: Unit) -> tuple[list[tuple[str, Sequence[Any]]], list[dict[str, str]]]:
        """The unit's statements with every value SQLite cannot bind replaced by NULL, and a
        note of each (table, column, the value's beginning)."""
        statements: list[tuple[str, Sequence[Any]]] = []
        dropped: list[dict[str, str]] = []
        for item in unit:
            sql, params = (item.sql, item.params) if type(item) is RowImage else item  # type: ignore[misc]
            if all(_bindable(value) for value in params):
                statements.append((sql, params))
                continue
            columns = _columns(sql)
            clean = list(params)
            for index, value in enumerate(params):
                if not _bindable(value):
                    clean[index] = None
                    column = columns[index] if index < len(columns) else f"parameter {index + 1}"
                    dropped.append({"table": _table(sql), "column": column, "value": _preview(value)})
            statements.append((sql, clean))
        return statements, dropped

    @staticmethod
    def _note(conn: sqlite3.Connection, unit: Unit, kind: str, data: dict[str, Any]) -> None:
        """An event in place of what could not be written, on the run and step of the unit's
        own event where it has one."""
        run_id = step_id = None
        for item in unit:
            if type(item) is not RowImage and item[0] == EVENT_SQL:
                params = item[1]
                run_id = params[1] if type(params[1]) is str else None
                step_id = params[2] if type(params[2]) is str else None
                break
        try:
            conn.execute(EVENT_SQL, (time.time(), run_id, step_id, kind, dumps(data)))
        except UNIT_ERRORS:  # a run id that names no run: the note goes on no run
            conn.execute(EVENT_SQL, (time.time(), None, None, kind, dumps(data)))

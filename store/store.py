"""The store: open (pragmas + migrations), the batched writer, and the few synchronous writes
that must be durable before anything else happens (creating a run, claiming it, commands).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

from schemas.records import WorkerRecord
from store import ops
from store.codec import dumps
from store.db import make_database
from store.errors import StoreError, StoreFailed, StoreInUse
from store.migrations import migrate
from store.tables import database

if TYPE_CHECKING:
    from store.writer import Unit, Writer


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None when there is none."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


class RunOwned(StoreError):
    """Another live engine owns the run."""

    def __init__(self, run_id: str, worker: WorkerRecord) -> None:
        self.worker = worker
        super().__init__(
            f"run {run_id} is being executed by worker {worker.id[:8]} (pid {worker.pid} on {worker.host}); "
            "cancel it with `uet cancel` or wait for it to finish"
        )


class Store:
    """One process's handle on one database. Peewee models are bound to the most recently
    opened store, so a process works with one store at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = make_database(self.path)
        database.initialize(self.db)
        try:
            self.db.connect(reuse_if_open=True)
            self.applied = migrate(self.db)
        except StoreError as exc:
            self.db.close()
            raise (StoreInUse if isinstance(exc, StoreInUse) else StoreError)(f"{self.path}: {exc}") from exc
        except Exception as exc:
            self.db.close()
            if _read_only(self.path):  # SQLite says only "unable to open database file"
                raise StoreFailed(f"the store {self.path} is on a read-only file system: it cannot be opened "
                                  f"for writing ({exc})") from exc
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
        self._writer: Writer | None = None
        #: The file the connection opened; see ``check_file``. Absolute: the engine changes its
        #: working directory to the project's root after opening (a relative UET_DB stays right).
        self._file = Path(os.path.abspath(self.path))
        self._identity = _identity(self._file)

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            from store.writer import Writer  # with asyncio: only a process that writes pays for it

            self._writer = Writer(self.db)
        return self._writer

    def submit(self, unit: Unit, owner: str | None = None) -> None:
        self.writer.submit(unit, owner)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction of its own. A database that refuses it (read-only, disk full,
        locked past the busy timeout) is a StoreFailed naming the file, not a raw SQLite error.
        Not peewee's ``atomic``: SQLite rolls back by itself when a full disk fails COMMIT, and
        atomic's own ROLLBACK then fails with "no transaction is active", hiding the cause."""
        from store.writer import Writer, store_fault

        conn = self.db.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
            except BaseException:
                Writer.rollback(conn)
                raise
        except (sqlite3.OperationalError, peewee.OperationalError) as exc:
            raise store_fault(str(self.path), exc) from exc

    def check_file(self) -> None:
        """Raise StoreFailed, and stop the writer, when the path no longer names the file the
        connection opened. SQLite goes on writing to a deleted or replaced file without a
        word, so a run would end "succeeded" with nothing kept; one stat call tells."""
        if self._writer is not None and self._writer.failed is not None:
            raise self._writer.failed
        now = _identity(self._file)
        if now == self._identity:
            return
        what = "was deleted" if now is None else "was replaced by another file"
        self.writer.fail(StoreFailed(f"the store {self.path} {what}"))
        raise self.writer.failed  # type: ignore[misc]

    def sync(self) -> None:
        if self._writer is not None:
            self._writer.sync()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- synchronous writes -------------------------------------------------------------

    def execute_now(self, unit: Unit) -> None:
        """Commit statements right away on this thread (for short CLI writes)."""
        self.sync()
        with self._writing():
            for sql, params in unit:
                self.db.execute_sql(sql, params)

    def create_run(
        self,
        *,
        run_id: str,
        workstream: str,
        source: str | None,
        root: str,
        max_parallel: int,
        spec: dict[str, Any],
        steps: Sequence[tuple[str, str, list[str], dict[str, Any]]],
        now: float | None = None,
    ) -> None:
        """Insert a run and its expanded steps (id, kind, needs, spec) in one transaction."""
        ts = time.time() if now is None else now
        conn = self.db.connection()
        try:
            self._insert_run(conn, run_id, workstream, source, root, max_parallel, spec, steps, ts)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"cannot create run {run_id}: {exc}") from exc

    def _insert_run(self, conn: sqlite3.Connection, run_id: str, workstream: str, source: str | None, root: str,
                    max_parallel: int, spec: dict[str, Any],
                    steps: Sequence[tuple[str, str, list[str], dict[str, Any]]], ts: float) -> None:
        with self._writing():
            conn.execute(
                "INSERT INTO runs (id, workstream, source, root, state, created_at, total_steps, max_parallel, spec) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                (run_id, workstream, source, root, ts, len(steps), max_parallel, dumps(spec)),
            )
            conn.executemany(
                "INSERT INTO steps (run_id, id, idx, kind, state, needs, spec) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                [
                    (run_id, step_id, index, kind, dumps(needs), dumps(step_spec))
                    for index, (step_id, kind, needs, step_spec) in enumerate(steps)
                ],
            )
            conn.execute(
                *ops.insert_event(ts, "run.created", run_id, None, {"workstream": workstream, "steps": len(steps)})
            )

    def insert_command(self, run_id: str, kind: str, args: dict[str, Any], created_by: str | None) -> int:
        ts = time.time()
        conn = self.db.connection()
        with self._writing():
            cursor = conn.execute(
                "INSERT INTO commands (run_id, kind, args, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                (run_id, kind, dumps(args), ts, created_by),
            )
            command_id = int(cursor.lastrowid or 0)
            conn.execute(
                *ops.insert_event(ts, "command.created", run_id, args.get("step"), {"id": command_id, "command": kind, "by": created_by, **args})
            )
        return command_id

    def claim_command(self, command_id: int, worker_id: str) -> bool:
        """Take a command for execution; False when another engine took it first."""
        conn = self.db.connection()
        with self._writing():
            cursor = conn.execute(
                "UPDATE commands SET claimed_by = ?, claimed_at = ? WHERE id = ? AND claimed_by IS NULL",
                (worker_id, time.time(), command_id),
            )
            return cursor.rowcount == 1

    def finish_command(self, command_id: int, result: str) -> None:
        self.submit([ops.command_done(command_id, time.time(), result)])

    def register_worker(self, worker_id: str, pid: int, host: str) -> None:
        ts = time.time()
        conn = self.db.connection()
        with self._writing():
            conn.execute(
                "INSERT INTO workers (id, pid, host, state, started_at, heartbeat_at) VALUES (?, ?, ?, 'starting', ?, ?)",
                (worker_id, pid, host, ts, ts),
            )
            conn.execute(*ops.insert_event(ts, "worker.started", None, None, {"worker": worker_id, "pid": pid, "host": host}))

    def claim_run(self, run_id: str, worker_id: str, is_lost: Callable[[WorkerRecord], bool]) -> str | None:
        """Make ``worker_id`` the run's owner. Returns the previous owner when it was lost;
        raises RunOwned when a live worker holds the run."""
        from store import queries

        conn = self.db.connection()
        with self._writing():
            row = conn.execute("SELECT worker_id FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id!r}")
            previous = row[0]
            if previous and previous != worker_id:
                worker = queries.get_worker(previous)
                if worker is not None and worker.state not in ("stopped", "lost"):
                    if not is_lost(worker):
                        raise RunOwned(run_id, worker)
                    ts = time.time()
                    conn.execute("UPDATE workers SET state = 'lost' WHERE id = ?", (previous,))
                    conn.execute(*ops.insert_event(ts, "worker.lost", run_id, None, {"worker": previous, "pid": worker.pid}))
            conn.execute("UPDATE runs SET worker_id = ? WHERE id = ?", (worker_id, run_id))
            # Requests nobody took were meant for an engine that is gone; carried out now, after
            # whatever brought this one here (a resume, a retry), they would surprise.
            conn.execute(*ops.expire_commands(run_id, worker_id, time.time()))
        return previous if previous and previous != worker_id else None

    def release_run(self, run_id: str, worker_id: str) -> None:
        """Give the run up; requests it did not take are answered as not carried out, so whoever
        asked hears so instead of waiting, and no later engine carries them out unasked."""
        self.submit([ops.expire_commands(run_id, worker_id, time.time()),
                     ("UPDATE runs SET worker_id = NULL WHERE id = ? AND worker_id = ?", (run_id, worker_id))],
                    worker_id)

    def integrity_check(self) -> str:
        return str(self.db.execute_sql("PRAGMA integrity_check").fetchone()[0])

    def execute_if(self, check_sql: str, check_params: Sequence[Any], expected: Any, unit: Unit) -> Any:
        """Run ``unit`` only if ``check_sql`` still returns ``expected`` (a compare-and-set in one
        write transaction). Returns what the check found, so a caller can say what changed."""
        self.sync()
        with self._writing():
            row = self.db.execute_sql(check_sql, check_params).fetchone()
            found = row[0] if row else None
            if found != expected:
                return found
            for sql, params in unit:  # type: ignore[misc]
                self.db.execute_sql(sql, params)
        return found

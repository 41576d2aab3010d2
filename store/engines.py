"""Which engines are writing to a store now, judged from the store alone: an engine registers a
worker row (``workers``) and writes a heartbeat every 2 s; it is alive while its row is neither
stopped nor lost, its heartbeat is fresh and, on this host, its process exists. ``engine.liveness``
judges runs by the same test; the store asks it before it changes its schema, which an older
engine still writing must not see happen (``store.migrations``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import NamedTuple, Protocol

from store.reads import WorkerRow

STALE_SECONDS = 10.0
"""A heartbeat older than this says its engine is gone (stopped, suspended or starved)."""
#: This host's name, as ``socket.gethostname()`` gives it (both read uname's node name), without
#: importing ``socket`` into every read command.
HOST = os.uname().nodename


def pid_alive(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) process on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[-1].split()
        return not fields or fields[0] not in ("Z", "X")
    except OSError:
        return True


class _Worker(Protocol):
    pid: int
    host: str
    state: str
    heartbeat_at: float


def is_lost(worker: _Worker, now: float | None = None) -> bool:
    """Whether the engine of a worker row (a record, a ``store.reads.WorkerRow``) is gone: its
    row says stopped or lost, its process on this host is gone, or its heartbeat went stale."""
    if worker.state in ("stopped", "lost"):
        return True
    if worker.host == HOST and not pid_alive(worker.pid):
        return True
    return (now if now is not None else time.time()) - worker.heartbeat_at > STALE_SECONDS


class LiveEngine(NamedTuple):
    worker: str
    pid: int
    host: str
    seconds_since: float  # since its last heartbeat
    run: str | None  # the unfinished run it owns, if any


def live_engines(conn: sqlite3.Connection, now: float | None = None) -> list[LiveEngine]:
    """The engines alive now, newest heartbeat first, with the run each executes. It reads the
    ``workers`` and ``runs`` columns every schema has had, so it serves a store of any age."""
    at = time.time() if now is None else now
    rows = conn.execute(  # the fresh heartbeats only: the rest is lost whatever else it says
        "SELECT id, pid, host, state, started_at, heartbeat_at FROM workers WHERE heartbeat_at >= ? "
        "ORDER BY heartbeat_at DESC", (at - STALE_SECONDS,)).fetchall()
    out = []
    for worker in map(WorkerRow._make, rows):
        if is_lost(worker, at):
            continue
        run = conn.execute(
            "SELECT id FROM runs WHERE worker_id = ? AND state NOT IN ('succeeded', 'failed', 'canceled') "
            "ORDER BY created_at DESC LIMIT 1", (worker.id,)).fetchone()
        out.append(LiveEngine(worker.id, worker.pid, worker.host, max(0.0, at - worker.heartbeat_at),
                              run[0] if run else None))
    return out

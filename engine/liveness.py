"""Whether the engine executing a run is still there, for the faces that show runs.

A run's state in the store is what its engine last wrote. When that engine dies (``kill -9``,
a crash, a closed laptop) nothing writes "stopped": the run stays ``running`` and its clock
would tick forever. So a face asks here. A run that is not finished and that an engine owns
(``runs.worker_id``) is *live* while that worker is (``is_lost`` says no) and
*lost* once its process is gone or its heartbeat went stale; a ``running`` run that no engine
owns is lost too. A lost run moves again only when someone resumes it, so the faces say
"engine lost N s ago" with the resume command, and stop its clock at the last sign of life:
the worker's last heartbeat or the run's last event, whichever came later.

One function serves ``uet runs``, ``uet status`` and the dashboard: one read of the workers
of the runs asked about and a signal 0 per worker of this host; nothing per step. It reads with
``store.reads`` on the connection it is given (a read command's own) or, by default, on the
connection of the ``Store`` the process opened; a run is anything with a run row's fields
(``RunRecord`` or ``reads.RunRow``), so a read command loads no Pydantic for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from engine.states import RUN_TERMINAL
from schemas.states import RunState
from store import reads
from store.engines import HOST, STALE_SECONDS, is_lost, pid_alive  # noqa: F401 - where the faces look for them

if TYPE_CHECKING:
    import sqlite3

    from schemas.records import RunRecord

    Run = RunRecord | reads.RunRow


class RunEngine(NamedTuple):
    """The engine of one unfinished run. ``last_seen`` is set for a lost engine only: when it
    last gave a sign of life (a heartbeat, an event), where the run's clock stops."""

    live: bool
    worker: str | None
    last_seen: float | None = None

    @property
    def word(self) -> str:
        return "live" if self.live else "lost"

    def lost_for(self, now: float) -> float | None:
        """Seconds since the lost engine's last sign of life; None for a live one."""
        if self.live or self.last_seen is None:
            return None
        return max(0.0, now - self.last_seen)


def run_engines(runs: Iterable[Run], now: float | None = None,
                conn: sqlite3.Connection | None = None) -> dict[str, RunEngine]:
    """The engine of each run given that is not finished and that an engine owns or should own
    (a ``running`` run); other runs (finished, or paused or pending with no owner) are left out.
    ``now`` is the clock staleness is judged by (the wall clock by default); ``conn`` the
    connection to read with (the open ``Store``'s by default)."""
    asked = [run for run in runs if run.state not in RUN_TERMINAL
             and (run.worker_id is not None or run.state is RunState.RUNNING)]
    if not asked:
        return {}
    at = time.time() if now is None else now
    conn = conn or reads.connection()
    workers = reads.workers_by_id(conn, {run.worker_id for run in asked if run.worker_id})
    out: dict[str, RunEngine] = {}
    for run in asked:
        worker = workers.get(run.worker_id) if run.worker_id else None
        if worker is not None and not is_lost(worker, at):
            out[run.id] = RunEngine(True, worker.id)
            continue
        event = reads.last_event_at(conn, run.id)
        seen = max(worker.heartbeat_at, event or 0.0) if worker is not None else \
            event or run.started_at or run.created_at
        out[run.id] = RunEngine(False, worker.id if worker else run.worker_id, seen)
    return out


def run_engine(run: Run, now: float | None = None, conn: sqlite3.Connection | None = None) -> RunEngine | None:
    """The engine of one run, as ``run_engines`` tells it; None when none is expected."""
    return run_engines([run], now, conn).get(run.id)


def live_owner(run: Run, conn: sqlite3.Connection | None = None) -> str | None:
    """The id of the live worker executing ``run``, if any."""
    if not run.worker_id:
        return None
    worker = reads.get_worker(conn or reads.connection(), run.worker_id)
    if worker is None or is_lost(worker):
        return None
    return worker.id

"""Where a run last executed: in a terminal, or detached in a background engine.

A run resumes where it ran: ``uet resume`` of a run whose background engine stopped (paused,
failed, lost) starts a background engine again rather than taking the run into whichever
terminal typed the command. The place is kept in the run's recorded options (``runs.spec``,
key ``detached``), written before the engine that executes the run loads them; the engine
writes the options back whole, so the key stays.
"""

from __future__ import annotations

from engine.events import EventBus, Recorder
from store import Store, ops, queries

KEY = "detached"


def record_placement(store: Store, run_id: str, *, detached: bool) -> None:
    """Say where ``run_id`` executes from now on. Call it only while no engine executes the run
    (before ``execute``): a live engine would write its own copy of the options over it."""
    spec = queries.run_spec(run_id)
    if spec.get(KEY, False) is detached:
        return
    spec[KEY] = detached
    Recorder(store, EventBus()).write([ops.run_spec(run_id, spec)])
    store.sync()


def ran_detached(run_id: str) -> bool:
    """Whether the run's last engine was a background one."""
    return bool(queries.run_spec(run_id).get(KEY, False))

"""The breakers as a person sees and steers them: each tool's breaker with the runs it holds,
and a reset that closes one by hand (``uet breakers reset TOOL``, the dashboard's breaker pane).

A reset is written to the store with a ``breaker.state`` event naming who asked, and sent as a
``reset_breaker`` command to every run a live engine executes: an engine keeps its breakers in
memory, so without the command it would go on waiting for the probe time, and write the open
breaker back at its next change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.events import Event, EventBus, Recorder
from engine.liveness import live_owner
from engine.states import RUN_UNFINISHED
from engine.toolconfig import load_router_config
from schemas.records import BreakerRecord, RunRecord
from schemas.states import BreakerState
from store import Store, ops, queries

#: How many of the newest unfinished runs are looked at for the ones a breaker holds.
RECENT_RUNS = 1000


class UnknownTool(InputError):
    """A reset of a tool that has no breaker (none recorded, none declared)."""


@dataclass(frozen=True)
class BreakerLine:
    """A breaker and the unfinished runs that wait on it (nothing of theirs executing)."""

    tool: str
    state: str
    failures: int
    calls: int
    opened_at: float | None
    next_probe_at: float | None
    waiting: list[str] = field(default_factory=list)


def _unfinished() -> list[RunRecord]:
    """The newest runs not finished, however many finished runs came after them."""
    return queries.list_runs(RECENT_RUNS, states=RUN_UNFINISHED)


def waiting_runs() -> dict[str, list[str]]:
    """Tool → the ids of the unfinished runs its open breaker holds (``runs.waiting_on``)."""
    held: dict[str, list[str]] = {}
    for run in _unfinished():
        if run.waiting_on:
            held.setdefault(run.waiting_on, []).append(run.id)
    return held


def breaker_lines() -> list[BreakerLine]:
    """Every recorded breaker, with the runs that wait on it."""
    held = waiting_runs()
    lines = []
    for record in queries.breakers():
        state = record.state.value if hasattr(record.state, "value") else str(record.state)
        probe = None
        waiting = held.get(record.tool, [])
        if waiting:
            probe = max((run.waiting_until or 0.0 for run in queries.runs_by_id(waiting)), default=None) or None
        lines.append(BreakerLine(record.tool, state, sum(record.window), len(record.window), record.opened_at,
                                 probe, waiting))
    return lines


def reset(store: Store, root: Path, tool: str, by: str) -> str:
    """Close ``tool``'s breaker: its failures are forgotten, the runs it held go on. Raises
    ``UnknownTool`` (nothing written) for a tool with no breaker recorded or declared."""
    recorded: dict[str, BreakerRecord] = {b.tool: b for b in queries.breakers()}
    record = recorded.get(tool)
    if record is None:
        declared = set(load_router_config(root).tools)
        if tool not in declared:
            known = ", ".join(sorted(set(recorded) | declared)) or "none"
            raise UnknownTool(f"breakers reset: no tool {tool!r} (tools with a breaker: {known})")
    source = BreakerState(record.state) if record is not None else BreakerState.CLOSED
    now = time.time()
    Recorder(store, EventBus()).write(
        [ops.upsert_breaker(tool, BreakerState.CLOSED.value, 0, [], None, None, now)],
        [Event(now, "breaker.state", None, None, {"tool": tool, "from": source.value, "to": BreakerState.CLOSED.value,
                                                  "reason": f"reset by {by}", "by": by, "next_probe_at": None})],
    )
    store.sync()
    told = 0
    for run in _unfinished():
        if live_owner(run) is not None:
            store.insert_command(run.id, "reset_breaker", {"tool": tool}, by)
            told += 1
    was = "was already closed" if source is BreakerState.CLOSED else f"was {source.value}"
    engines = f"; {told} running engine(s) told" if told else ""
    return f"breaker {tool} closed ({was}){engines}"

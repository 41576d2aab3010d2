"""What a live view of the store needs, read incrementally: the dashboard's model.

A face calls ``load()`` once, then ``poll()`` each time the change feed wakes it. ``poll``
reads only the events after its cursor, and from them only the runs, steps and breakers those
events touched, so following a 10,000-step run with 100,000 events costs what changed, not
what exists. No Textual here: the same model serves tests, benchmarks and any other face.

It reads with plain ``sqlite3`` rows (``store.reads``: runs, steps and events as named tuples),
on the connection its face gives it: the dashboard lists the runs without importing the ORM,
the migrations or Pydantic, and draws its first frame before even this reading begins.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.states import RUN_TERMINAL, RUN_UNFINISHED

if TYPE_CHECKING:
    import sqlite3

    from engine.liveness import RunEngine
    from schemas.patch import CostTotals
    from schemas.rows import EventRow, StepRow
    from store.reads import RunRow

EVENTS_PER_POLL = 5_000
RUNS_SHOWN = 1_000
#: How often the engines of unfinished runs are asked after. An engine that dies writes
#: nothing, so no event would tell; its run turns "lost" within this plus the staleness window.
LIVENESS_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class BreakerView:
    tool: str
    state: str
    failures: int
    calls: int
    next_probe_at: float | None

    def probe_in(self, now: float) -> float | None:
        if self.state != "open" or self.next_probe_at is None:
            return None
        return max(0.0, self.next_probe_at - now)


@dataclass(frozen=True, slots=True)
class RunCost:
    usd: float
    unpriced: int
    tokens: int

    @classmethod
    def of(cls, totals: CostTotals) -> RunCost:
        return cls(totals.usd, totals.unpriced, totals.tokens_in + totals.tokens_out)

    @classmethod
    def of_row(cls, totals: dict[str, Any]) -> RunCost:
        """From a row of ``store.reads.cost_totals``."""
        return cls(totals["usd"], totals["unpriced"], totals["tokens_in"] + totals["tokens_out"])


@dataclass(slots=True)
class Delta:
    """What changed since the last read. ``steps_reset`` means ``steps`` is the whole watched
    run (a new run was watched); otherwise it holds only the steps that changed."""

    runs: list[RunRow] = field(default_factory=list)
    watched: str | None = None
    steps: list[StepRow] = field(default_factory=list)
    steps_reset: bool = False
    breakers: list[BreakerView] | None = None
    events: list[EventRow] = field(default_factory=list)
    costs: dict[str, RunCost] = field(default_factory=dict)
    #: Runs whose engine changed (live, lost, or None once no engine is expected: it ended).
    engines: dict[str, RunEngine | None] = field(default_factory=dict)
    more: bool = False

    def __bool__(self) -> bool:
        return bool(self.runs or self.steps or self.steps_reset or self.breakers is not None or self.events
                    or self.costs or self.engines)


def eta(run: RunRow, now: float | None = None) -> float | None:
    """Seconds left at the pace so far; None before three steps are done, once it ended, and
    while it pauses or waits on a breaker (the pace so far says nothing of those)."""
    if (run.ended_at is not None or run.started_at is None or run.done_steps < 3 or run.pausing
            or run.waiting_on):
        return None
    remaining = run.total_steps - run.done_steps
    if remaining <= 0:
        return 0.0
    elapsed = max(0.0, (now or time.time()) - run.started_at)
    return elapsed * remaining / run.done_steps


def _store_connection() -> AbstractContextManager[sqlite3.Connection]:
    """The open ``Store``'s connection of the calling thread, for the length of a read."""
    from store.reads import connection

    return contextlib.nullcontext(connection())


class Monitor:
    def __init__(self, runs_shown: int = RUNS_SHOWN, events_per_poll: int = EVENTS_PER_POLL,
                 clock: Callable[[], float] = time.time, liveness_every: float = LIVENESS_SECONDS,
                 reading: Callable[[], AbstractContextManager[sqlite3.Connection]] | None = None) -> None:
        """``clock`` is the face's clock, by which heartbeats are judged stale; ``reading``
        gives the connection to read with for the length of one read (by default the open
        ``Store``'s connection of the calling thread)."""
        self.reading = reading or _store_connection
        self.runs_shown = runs_shown
        self.events_per_poll = events_per_poll
        self.clock = clock
        self.liveness_every = liveness_every
        self.cursor = 0
        self.watched: str | None = None
        self._reset_watched = False
        self._probes: dict[str, float | None] = {}
        self._unfinished: dict[str, RunRow] = {}
        self.engines: dict[str, RunEngine] = {}
        self._asked_at = float("-inf")

    def watch(self, run_id: str | None) -> None:
        """Follow this run's steps from the next read on (its whole step list comes first)."""
        if run_id != self.watched:
            self.watched = run_id
            self._reset_watched = run_id is not None

    def load(self, tail: int = 200) -> Delta:
        """The starting picture: the newest runs and every unfinished one, their costs, breakers
        and the event tail."""
        with self.reading() as conn:
            return self._load(conn, tail)

    def _load(self, conn: sqlite3.Connection, tail: int) -> Delta:
        from store import reads

        self.cursor = reads.max_event_seq(conn)
        runs = reads.list_runs(conn, limit=self.runs_shown)
        # A run still at work, paused or held stays in the picture however many runs came after
        # it (a long run beside a trigger that fires every minute): newest first, then those.
        listed = {run.id for run in runs}
        runs += [run for run in reads.list_runs(conn, self.runs_shown, states=RUN_UNFINISHED) if run.id not in listed]
        for event in reads.last_breaker_events(conn):
            self._note_breaker(event)
        delta = Delta(runs=runs, breakers=self._breakers(conn), events=reads.last_events(conn, limit=tail),
                      costs=self._costs(conn, [r.id for r in runs]))
        self._add_watched(conn, delta)
        self._note_runs(runs)
        delta.engines = self._engines_changed(conn)
        return delta

    def poll(self) -> Delta:
        with self.reading() as conn:
            return self._poll(conn)

    def _poll(self, conn: sqlite3.Connection) -> Delta:
        from store import reads

        events = reads.events_since(conn, self.cursor, limit=self.events_per_poll)
        delta = Delta(events=events, more=len(events) >= self.events_per_poll)
        if events:
            self.cursor = events[-1].seq
        run_ids: set[str] = set()
        step_ids: set[str] = set()
        cost_runs: set[str] = set()
        breakers_changed = False
        for event in events:
            if event.run_id is not None:
                run_ids.add(event.run_id)
                if event.run_id == self.watched and event.step_id is not None:
                    step_ids.add(event.step_id)
                if event.kind == "step.state" and event.data.get("attempt") is not None:
                    cost_runs.add(event.run_id)
            if event.kind == "breaker.state":
                self._note_breaker(event)
                breakers_changed = True
            elif event.kind == "step.state" and event.data.get("to") in ("succeeded", "failed", "retrying"):
                breakers_changed = True  # windows and failure counts moved
        owners_moved = False
        if run_ids:
            delta.runs = reads.runs_by_id(conn, run_ids)
            owners_moved = self._note_runs(delta.runs)
        due = time.monotonic() - self._asked_at >= self.liveness_every
        if due:
            # An engine stores its runs' counts once a second without an event: the unfinished
            # runs no event touched are read again, so their progress never stays behind.
            quiet = [rid for rid in self._unfinished if rid not in run_ids]
            moved = [run for run in reads.runs_by_id(conn, quiet) if run != self._unfinished.get(run.id)]
            if moved:
                delta.runs.extend(moved)
                owners_moved = self._note_runs(moved) or owners_moved
        if owners_moved or due:
            delta.engines = self._engines_changed(conn)
        if cost_runs:
            delta.costs = self._costs(conn, cost_runs)
        if breakers_changed:
            delta.breakers = self._breakers(conn)
        if self._reset_watched:
            self._add_watched(conn, delta)
        elif self.watched is not None and step_ids:
            delta.watched = self.watched
            delta.steps = reads.step_rows_by_id(conn, self.watched, step_ids)
        return delta

    def _note_runs(self, runs: list[RunRow]) -> bool:
        """Keep the unfinished runs; True when one changed state or owner (its engine is then
        asked after at once, not at the next period)."""
        moved = False
        for run in runs:
            known = self._unfinished.get(run.id)
            moved = moved or known is None or (known.state, known.worker_id) != (run.state, run.worker_id)
            if run.state in RUN_TERMINAL:
                self._unfinished.pop(run.id, None)
            else:
                self._unfinished[run.id] = run
        return moved

    def _engines_changed(self, conn: sqlite3.Connection) -> dict[str, RunEngine | None]:
        """Ask after the engines of the unfinished runs; return those that changed."""
        from engine.liveness import run_engines

        self._asked_at = time.monotonic()
        now = run_engines(self._unfinished.values(), self.clock(), conn)
        changed: dict[str, RunEngine | None] = {rid: None for rid in self.engines if rid not in now}
        changed.update({rid: engine for rid, engine in now.items() if self.engines.get(rid) != engine})
        self.engines = now
        return changed

    def _add_watched(self, conn: sqlite3.Connection, delta: Delta) -> None:
        from store import reads

        self._reset_watched = False
        if self.watched is None:
            return
        delta.watched = self.watched
        delta.steps = reads.step_rows(conn, self.watched)
        delta.steps_reset = True

    def _note_breaker(self, event: EventRow) -> None:
        tool = event.data.get("tool")
        if isinstance(tool, str):
            at = event.data.get("next_probe_at")
            self._probes[tool] = float(at) if isinstance(at, (int, float)) else None

    def _breakers(self, conn: sqlite3.Connection) -> list[BreakerView]:
        from store import reads

        return [self._view(b) for b in reads.breakers(conn)]

    def _view(self, breaker: dict[str, Any]) -> BreakerView:
        state, window = str(breaker["state"]), breaker["window"]
        return BreakerView(breaker["tool"], state, sum(window), len(window),
                           self._probes.get(breaker["tool"]) if state == "open" else None)

    @staticmethod
    def _costs(conn: sqlite3.Connection, run_ids: set[str] | list[str]) -> dict[str, RunCost]:
        from store import reads

        return {str(totals["key"]["run_id"]): RunCost.of_row(totals)
                for totals in reads.cost_totals(conn, ("run_id",), run_ids=list(run_ids))}

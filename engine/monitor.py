"""What a live view of the store needs, read incrementally: the dashboard's model.

A face calls ``load()`` once, then ``poll()`` each time the change feed wakes it. ``poll``
reads only the events after its cursor, and from them only the runs, steps and breakers those
events touched, so following a 10,000-step run with 100,000 events costs what changed, not
what exists. No Textual here: the same model serves tests, benchmarks and any other face.

The queries (with the ORM and the record models) load with the first read, not with this
module: the dashboard draws its first frame with the names below and reads in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.states import RUN_TERMINAL, RUN_UNFINISHED

if TYPE_CHECKING:
    from engine.liveness import RunEngine
    from schemas.patch import CostTotals
    from schemas.records import BreakerRecord, EventRecord, RunRecord, StepRow

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


@dataclass(slots=True)
class Delta:
    """What changed since the last read. ``steps_reset`` means ``steps`` is the whole watched
    run (a new run was watched); otherwise it holds only the steps that changed."""

    runs: list[RunRecord] = field(default_factory=list)
    watched: str | None = None
    steps: list[StepRow] = field(default_factory=list)
    steps_reset: bool = False
    breakers: list[BreakerView] | None = None
    events: list[EventRecord] = field(default_factory=list)
    costs: dict[str, RunCost] = field(default_factory=dict)
    #: Runs whose engine changed (live, lost, or None once no engine is expected: it ended).
    engines: dict[str, RunEngine | None] = field(default_factory=dict)
    more: bool = False

    def __bool__(self) -> bool:
        return bool(self.runs or self.steps or self.steps_reset or self.breakers is not None or self.events
                    or self.costs or self.engines)


def eta(run: RunRecord, now: float | None = None) -> float | None:
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


class Monitor:
    def __init__(self, runs_shown: int = RUNS_SHOWN, events_per_poll: int = EVENTS_PER_POLL,
                 clock: Callable[[], float] = time.time, liveness_every: float = LIVENESS_SECONDS) -> None:
        """``clock`` is the face's clock, by which heartbeats are judged stale."""
        self.runs_shown = runs_shown
        self.events_per_poll = events_per_poll
        self.clock = clock
        self.liveness_every = liveness_every
        self.cursor = 0
        self.watched: str | None = None
        self._reset_watched = False
        self._probes: dict[str, float | None] = {}
        self._unfinished: dict[str, RunRecord] = {}
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
        from store import queries

        self.cursor = queries.max_event_seq()
        runs = queries.list_runs(limit=self.runs_shown)
        # A run still at work, paused or held stays in the picture however many runs came after
        # it (a long run beside a trigger that fires every minute): newest first, then those.
        listed = {run.id for run in runs}
        runs += [run for run in queries.list_runs(self.runs_shown, states=RUN_UNFINISHED) if run.id not in listed]
        for event in queries.last_breaker_events():
            self._note_breaker(event)
        delta = Delta(runs=runs, breakers=self._breakers(), events=queries.last_events(limit=tail),
                      costs=self._costs([r.id for r in runs]))
        self._add_watched(delta)
        self._note_runs(runs)
        delta.engines = self._engines_changed()
        return delta

    def poll(self) -> Delta:
        from store import queries

        events = queries.events_after(self.cursor, limit=self.events_per_poll)
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
            delta.runs = queries.runs_by_id(run_ids)
            owners_moved = self._note_runs(delta.runs)
        due = time.monotonic() - self._asked_at >= self.liveness_every
        if due:
            # An engine stores its runs' counts once a second without an event: the unfinished
            # runs no event touched are read again, so their progress never stays behind.
            quiet = [rid for rid in self._unfinished if rid not in run_ids]
            moved = [run for run in queries.runs_by_id(quiet) if run != self._unfinished.get(run.id)]
            if moved:
                delta.runs.extend(moved)
                owners_moved = self._note_runs(moved) or owners_moved
        if owners_moved or due:
            delta.engines = self._engines_changed()
        if cost_runs:
            delta.costs = self._costs(cost_runs)
        if breakers_changed:
            delta.breakers = self._breakers()
        if self._reset_watched:
            self._add_watched(delta)
        elif self.watched is not None and step_ids:
            delta.watched = self.watched
            delta.steps = queries.step_rows_by_id(self.watched, step_ids)
        return delta

    def _note_runs(self, runs: list[RunRecord]) -> bool:
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

    def _engines_changed(self) -> dict[str, RunEngine | None]:
        """Ask after the engines of the unfinished runs; return those that changed."""
        from engine.liveness import run_engines

        self._asked_at = time.monotonic()
        now = run_engines(self._unfinished.values(), self.clock())
        changed: dict[str, RunEngine | None] = {rid: None for rid in self.engines if rid not in now}
        changed.update({rid: engine for rid, engine in now.items() if self.engines.get(rid) != engine})
        self.engines = now
        return changed

    def _add_watched(self, delta: Delta) -> None:
        from store import queries

        self._reset_watched = False
        if self.watched is None:
            return
        delta.watched = self.watched
        delta.steps = queries.step_rows(self.watched)
        delta.steps_reset = True

    def _note_breaker(self, event: EventRecord) -> None:
        tool = event.data.get("tool")
        if isinstance(tool, str):
            at = event.data.get("next_probe_at")
            self._probes[tool] = float(at) if isinstance(at, (int, float)) else None

    def _breakers(self) -> list[BreakerView]:
        from store import queries

        return [self._view(b) for b in queries.breakers()]

    def _view(self, breaker: BreakerRecord) -> BreakerView:
        state = breaker.state.value if hasattr(breaker.state, "value") else str(breaker.state)
        return BreakerView(breaker.tool, state, sum(breaker.window), len(breaker.window),
                           self._probes.get(breaker.tool) if state == "open" else None)

    @staticmethod
    def _costs(run_ids: set[str] | list[str]) -> dict[str, RunCost]:
        from store import queries

        return {str(totals.key["run_id"]): RunCost.of(totals)
                for totals in queries.cost_totals(("run_id",), run_ids=run_ids)}

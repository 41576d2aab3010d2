"""Dispatch: ready steps wait in one queue per routing key (a tool, or a kind routed by the
router) and start while ``max_parallel`` and the router (per-tool limits, breakers) allow.

A dispatch round costs O(keys), not O(ready steps), however many steps are blocked on a limit:
a key whose head is blocked is left as it was until something changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from engine.events import Event, Recorder
from engine.resilience import BreakerChange
from engine.router import Blocked, Route, Router
from engine.run.table import Running, StepTable
from schemas.execution import ExecutionResult
from schemas.states import StepState
from store import ops

S = StepState


class Dispatcher:
    """The queues, the attempts running, and the breakers' records.

    ``wake(delay)`` asks to be called again after ``delay`` seconds (a breaker's probe comes
    due); the attempt itself is started by the ``start`` function given to ``dispatch``."""

    def __init__(self, table: StepTable, router: Router, rec: Recorder, max_parallel: int,
                 wake: Callable[[float], None]) -> None:
        self.table = table
        self.router = router
        self.rec = rec
        self.max_parallel = max_parallel
        self.wake = wake
        self.queues: dict[str, deque[str]] = {}
        #: Steps waiting for their retry's backoff to end.
        self.delayed: set[str] = set()
        self.running: dict[str, Running] = {}
        self.dirty_breakers: set[str] = set()
        #: Routing keys whose head step waits for an open breaker: the tool, and when it lets a probe through.
        self.held: dict[str, tuple[str, float]] = {}

    def enqueue(self, sid: str) -> None:
        key = self.table.keys[sid]
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
        queue.append(sid)

    def make_ready(self, sid: str) -> None:
        self.table.move(sid, S.READY)
        self.enqueue(sid)

    def idle(self) -> bool:
        return not self.running and not self.delayed and not any(self.queues.values())

    def dispatch(self, now: float, start: Callable[[str, Route], None]) -> None:
        """Start what the limits and the router allow; a step whose tool can never be had
        fails here, one whose tool is busy or whose breaker is open waits at its queue's head."""
        running, max_parallel, queues = self.running, self.max_parallel, self.queues
        specs, route = self.table.specs, self.router.route
        for key in list(queues):
            queue = queues[key]
            while queue and len(running) < max_parallel:
                sid = queue[0]
                decision, change = route(key, specs[sid], now)
                self.breaker_change(change)
                if isinstance(decision, Blocked):
                    if decision.final:
                        queue.popleft()
                        self.fail_unroutable(sid, decision.reason)
                        continue
                    if decision.until is not None:
                        self.wake(decision.until - now + 0.01)
                        held = self.held_until(sid, now)
                        if held is not None:
                            self.held[key] = held
                    break
                queue.popleft()
                self.held.pop(key, None)
                start(sid, decision)
            if not queue:
                del queues[key]
                self.held.pop(key, None)
            if len(running) >= max_parallel:
                return

    def held_until(self, sid: str, at: float) -> tuple[str, float] | None:
        """The breaker that keeps the step from starting at ``at`` and when it lets a probe
        through, when every tool the step can use is behind an open (or probing) breaker; None
        when a tool is free of one then, or the step's tool has no breaker (an ad-hoc command)."""
        router = self.router
        key = self.table.keys[sid]
        if key.startswith("run:"):
            return None  # an ad-hoc command: no breaker holds it, whatever a tool of its name does
        names, _ = router.candidates(key)
        found: list[tuple[float, str]] = []
        for name in names:
            breaker = router.breakers.get(name)
            if breaker is None or breaker.available(at):
                return None
            probe = breaker.next_probe_at()
            if probe is None:
                return None
            found.append((probe, name))
        if not found:
            return None
        probe, name = min(found)
        return name, probe

    def waiting_on(self, now: float) -> tuple[str, float] | None:
        """What the run waits on when nothing executes and a step is held by a breaker: the
        breaker whose probe comes first, and when. None while something runs."""
        if self.running:
            return None
        held = [(until, tool) for key, (tool, until) in self.held.items() if self.queues.get(key)]
        if not held:
            return None
        until, tool = min(held)
        return tool, until

    def fail_unroutable(self, sid: str, reason: str) -> None:
        """Perceive found no usable tool: record a failed attempt that never started a tool."""
        table = self.table
        row = table.rows[sid]
        row.attempts += 1
        now = table.clock()
        names, _ = self.router.candidates(table.keys[sid])
        row.tool = names[0] if names else "none"
        if row.started_at is None:
            row.started_at = now
        table.move(sid, S.RUNNING, (ops.attempt_row(table.run_id, sid, row.attempts, row.tool, "running",
                                                    table.worker_id, now),),
                   {"attempt": row.attempts, "tool": row.tool})
        result = ExecutionResult(outcome="failed", error=reason)
        table.finish(sid, S.FAILED, None, reason, (row.attempts, now, result, None))

    def breaker_change(self, change: BreakerChange | None) -> None:
        """Record a breaker's move at once, with its event."""
        if change is None:
            return
        breaker = self.router.breaker(change.tool)
        clock = self.table.clock
        snap = breaker.snapshot(clock())
        self.rec.write(
            [ops.upsert_breaker(snap.tool, snap.state.value, snap.consecutive_failures, snap.window, snap.opened_at,
                                snap.probe_started_at, snap.updated_at)],
            [Event(clock(), "breaker.state", self.table.run_id, None,
                   {"tool": change.tool, "from": change.source.value, "to": change.target.value,
                    "reason": change.reason, "next_probe_at": breaker.next_probe_at()})],
        )
        self.dirty_breakers.discard(change.tool)

    def breaker_statements(self, now: float) -> list[Any]:
        """The rows of breakers whose counts changed without a move, for the next housekeeping."""
        statements = []
        for tool in sorted(self.dirty_breakers):
            breaker = self.router.breakers.get(tool)
            if breaker is None:
                continue  # an ad-hoc command's tool: it has no breaker
            snap = breaker.snapshot(now)
            statements.append(ops.upsert_breaker(snap.tool, snap.state.value, snap.consecutive_failures, snap.window,
                                                 snap.opened_at, snap.probe_started_at, snap.updated_at))
        self.dirty_breakers.clear()
        return statements

"""Dispatch: ready steps wait in one queue per routing key (a tool, or a kind routed by the
router) and start while ``max_parallel`` and the router (per-tool limits, breakers) allow.

A dispatch round costs O(keys), not O(ready steps), however many steps are blocked on a limit:
a key whose head is blocked is left as it was until something changes.

A step with a ``delay`` or a ``not_before`` whose needs are met waits (state ``waiting``) until
its due time, kept in the store; the dispatcher holds the due times in a heap and asks to be
woken at the earliest one, so a waiting run sleeps rather than polls.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.events import Event, Recorder
from engine.resilience import BreakerChange
from engine.router import Blocked, Route, Router
from engine.run.table import Running, StepTable
from schemas.durations import parse_duration
from schemas.execution import ExecutionResult
from schemas.states import StepState
from schemas.times import next_occurrence, parse_not_before
from store import ops

S = StepState
#: What a run's ``waiting_on`` starts with when a step's due time holds it (no tool's name has a colon).
DUE_PREFIX = "step:"


def due_time(spec: dict[str, Any], now: float) -> float:
    """When a step whose needs were met at ``now`` may start: ``delay`` after it, and not before
    the next occurrence of ``not_before`` (schemas.times); the later of the two when both are set."""
    due = now
    if spec.get("delay") is not None:
        due = now + parse_duration(spec["delay"])
    if spec.get("not_before") is not None:
        due = max(due, next_occurrence(parse_not_before(spec["not_before"]), now))
    return due


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
        #: Steps in state ``waiting``, with their due times; ``_dues`` is the same as a heap (entries
        #: whose step no longer waits, or waits for another time, are dropped when they surface).
        self.waiting: dict[str, float] = {}
        self._dues: list[tuple[float, str]] = []
        #: The due time the loop will wake the dispatcher for, once asked.
        self._alarm: float | None = None

    def enqueue(self, sid: str) -> None:
        key = self.table.keys[sid]
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
        queue.append(sid)

    def make_ready(self, sid: str) -> None:
        """The step's needs are met: it is ready, or waits for its due time when it has a delay
        or a time gate that is not reached yet (the due time goes into its row, with its event)."""
        table = self.table
        spec = table.specs[sid]
        if "delay" in spec or "not_before" in spec:
            now = table.clock()
            due = due_time(spec, now)
            if due > now:
                due = round(due, 3)
                table.move(sid, S.WAITING, (ops.step_due(table.run_id, sid, due),))
                self.wait_until(sid, due)
                self.rec.event(Event(now, "step.waiting", table.run_id, sid,
                                     {"due_at": due, "delay": spec.get("delay"), "not_before": spec.get("not_before")}))
                return
        table.move(sid, S.READY)
        self.enqueue(sid)

    def wait_until(self, sid: str, due: float) -> None:
        """Hold a waiting step until ``due`` (recorded already: a recovered run keeps its time)."""
        self.waiting[sid] = due
        heapq.heappush(self._dues, (due, sid))

    def release(self, now: float) -> None:
        """Make ready the waiting steps whose due time came, and ask to be woken at the next one."""
        dues, waiting = self._dues, self.waiting
        while dues and (dues[0][0] <= now or waiting.get(dues[0][1]) != dues[0][0]):
            due, sid = heapq.heappop(dues)
            if waiting.get(sid) != due:
                continue  # it stopped waiting (canceled) or waits for another time now
            del waiting[sid]
            if self.table.state[sid] is S.WAITING:
                self.table.move(sid, S.READY)
                self.enqueue(sid)
        if dues and (self._alarm is None or self._alarm <= now or dues[0][0] < self._alarm):
            self._alarm = dues[0][0]
            # The loop's timers run on another clock than the wall's: a little late rather than early.
            self.wake(self._alarm - now + 0.01)

    def idle(self) -> bool:
        return not self.running and not self.delayed and not self.waiting and not any(self.queues.values())

    def dispatch(self, now: float, start: Callable[[str, Route], None]) -> None:
        """Start what the limits and the router allow; a step whose tool can never be had
        fails here, one whose tool is busy or whose breaker is open waits at its queue's head."""
        if self.waiting:
            self.release(now)
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
        breaker whose probe comes first, and when; or, when the only work left waits for its
        due time, that step (``step:ID``) and the time. None while something runs or can run."""
        if self.running:
            return None
        held = [(until, tool) for key, (tool, until) in self.held.items() if self.queues.get(key)]
        if self.waiting and not self.delayed and len(held) == sum(1 for queue in self.queues.values() if queue):
            sid, due = min(self.waiting.items(), key=lambda item: item[1])
            held.append((due, DUE_PREFIX + sid))
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

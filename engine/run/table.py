"""The step table: the engine's in-memory copy of a run's steps, and the one way a step moves.

Every part of the executor reads and changes steps through it, so the rule that a move writes
the step's row image and its event as one unit (and tells the bus) lives in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.events import Event, EventBus
from engine.progress import Progress
from engine.router import Route
from engine.states import STEP_ALLOWED, transition
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.states import StepState
from store import ops
from store.codec import dumps
from store.ops import STEP_ROW_SQL
from store.writer import EVENT_SQL, RowImage

S = StepState
#: A finished attempt as the table records it: number, start time, result, log path (None
#: when it never started a tool).
Attempt = tuple[int, float, ExecutionResult, "str | None"]


class Row:
    """The engine's copy of a step row's mutable fields; written as one row image.

    ``base`` counts attempts that do not count against the retry policy: those made before
    an operator's retry or resume, and fix-loop rounds."""

    __slots__ = ("tool", "attempts", "base", "exit_code", "started_at", "ended_at", "reason")

    def __init__(self, tool: str | None, attempts: int, base: int, exit_code: int | None,
                 started_at: float | None, ended_at: float | None, reason: str | None) -> None:
        self.tool = tool
        self.attempts = attempts
        self.base = base
        self.exit_code = exit_code
        self.started_at = started_at
        self.ended_at = ended_at
        self.reason = reason


@dataclass(slots=True)
class Running:
    """An attempt in flight: what the limits count and what a cancel reaches."""

    step_id: str
    number: int
    route: Route
    request: ExecutionRequest
    cancel: asyncio.Event
    task: asyncio.Task[Any] | None
    started: float
    started_ts: float


@dataclass(slots=True)
class Stops:
    """Why the run stops starting attempts, if it does: each part reads them, the runner and
    the attempts' verdicts set them."""

    canceling: str | None = None
    pausing: str | None = None
    halted: str | None = None

    def any(self) -> bool:
        return bool(self.canceling or self.pausing or self.halted)


@dataclass(slots=True)
class StepTable:
    """The steps of one run: states, specs, routing keys, the DAG's edges, rows and progress."""

    run_id: str
    worker_id: str
    clock: Callable[[], float]
    #: The writer's submit: takes a unit of statements and the owner that must hold the run.
    submit: Callable[[Any, str], None]
    bus: EventBus
    state: dict[str, StepState] = field(default_factory=dict)
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    needs: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    #: How many of a step's needs have not succeeded yet.
    waiting: dict[str, int] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    progress: Progress | None = None
    #: When a step's retry can really start: the breaker that holds it past its backoff and
    #: when it lets a probe through (``Dispatcher.held_until``); None when nothing holds it.
    hold: Callable[[str, float], tuple[str, float] | None] | None = None

    def add(self, sid: str, state: StepState, spec: dict[str, Any], key: str, needs: list[str], row: Row) -> None:
        self.state[sid] = state
        self.specs[sid] = spec
        self.keys[sid] = key
        self.needs[sid] = needs
        self.rows[sid] = row
        self.children.setdefault(sid, [])

    def link(self) -> None:
        """Fill in each step's children once every step is added."""
        for sid, needs in self.needs.items():
            for need in needs:
                self.children[need].append(sid)

    def move(self, sid: str, target: StepState, extra: tuple = (), data: dict[str, Any] | None = None) -> None:
        """Move a step, writing its row image (plus ``extra``) and its event as one unit.

        This runs three times per step, so it builds the unit itself rather than going through
        the generic Recorder path; the states are StrEnums and go into SQL and JSON as strings.
        """
        source = self.state[sid]
        if target not in STEP_ALLOWED[source]:
            transition("step", source, target, sid)
        self.state[sid] = target
        row = self.rows[sid]
        if data is None:
            data = {}
        data["from"] = source
        data["to"] = target
        ts = self.clock()
        if target is S.RETRYING and self.hold is not None and data.get("delay") is not None:
            # The backoff is not the wait when a breaker will hold the retry longer: say the later time.
            held = self.hold(sid, ts + data["delay"])
            if held is not None and held[1] > ts + data["delay"]:
                data["backoff"], data["delay"] = data["delay"], round(held[1] - ts, 3)
                data["held_by"] = held[0]
        run_id = self.run_id
        self.submit((
            RowImage(STEP_ROW_SQL, (run_id, sid), (target, row.tool, row.attempts, row.base, row.exit_code,
                                                   row.started_at, row.ended_at, row.reason, run_id, sid)),
            *extra,
            (EVENT_SQL, (ts, run_id, sid, "step.state", dumps(data))),
        ), self.worker_id)
        if self.bus.active:
            self.bus.publish(Event(ts, "step.state", run_id, sid, data))

    def attempt_image(self, sid: str, attempt: Attempt, now: float, ran: bool = True) -> Any:
        """The finished attempt's row; ``ran`` is False for one that never started a tool, which
        then has no duration and is not listed among costs."""
        number, started, result, log = attempt
        return ops.attempt_row(self.run_id, sid, number, self.rows[sid].tool or "none", result.outcome,
                               self.worker_id, started, now, result.exit_code, log, result.error,
                               result.tokens_in, result.tokens_out, result.usd, result.model,
                               tokens_cached=result.tokens_cached, duration=result.duration if ran else None,
                               output=result.output)

    def finish(self, sid: str, target: StepState, exit_code: int | None, reason: str | None,
               attempt: Attempt | None) -> None:
        """Move a step to an end state, with its last attempt's row when there is one."""
        now = self.clock()
        row = self.rows[sid]
        row.exit_code, row.ended_at, row.reason = exit_code, now, reason
        extra: tuple = ()
        data: dict[str, Any] = {}
        if attempt is not None:
            # An attempt with no log path never started a tool (see Dispatcher.fail_unroutable).
            extra = (self.attempt_image(sid, attempt, now, ran=attempt[3] is not None),)
            number, _started, result, _log = attempt
            data = {"attempt": number, "outcome": result.outcome, "exit_code": exit_code,
                    "duration": round(result.duration, 4)}
            tokens = result.tokens
            if tokens is not None:
                data["tokens"] = tokens
        if reason:
            data["reason"] = reason
        self.move(sid, target, extra, data)
        if self.progress is not None:
            started = row.started_at
            self.progress.step_finished(target, (now - started) if started is not None and attempt else None)

    def skip_descendants(self, sid: str) -> None:
        """A step ended without success: every pending step below it is skipped, saying why."""
        stack = [sid]
        while stack:
            parent = stack.pop()
            for child in self.children[parent]:
                if self.state[child] is S.PENDING:
                    self.finish(child, S.SKIPPED, None, f"needs {parent}, which {self.state[parent].value}", None)
                    stack.append(child)

    def reopen(self, sid: str) -> None:
        """An operator's retry or resume: the step starts over, its earlier attempts no longer
        counting against its retries."""
        row = self.rows[sid]
        row.base, row.exit_code, row.ended_at, row.reason = row.attempts, None, None, None
        self.move(sid, S.PENDING, (), {"reason": "reopened by operator"})

    def unmet(self, sid: str) -> int:
        """How many of the step's needs have not succeeded."""
        state = self.state
        return sum(1 for n in self.needs[sid] if state[n] is not S.SUCCEEDED)

"""The run executor: drives one run's DAG to the end.

It claims the run (one owner at a time), recovers what a crashed engine left behind (its
processes are ended first; attempts in flight become ``crashed`` and their steps run again
without spending retries, up to ``MAX_ENGINE_LOSSES`` in a row; steps that succeeded never
run again), then dispatches ready steps under ``max_parallel`` and per-tool
limits, routes each to a tool, runs attempts through the pipeline, and records every state
change with its event through the batched writer. Control commands (cancel, pause, resume,
retry) arrive through ``handle_command``.

Ready steps wait in one queue per routing key (a tool, or a kind routed by the router), so a
dispatch round costs O(keys), not O(ready steps), however many steps are blocked on a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.adapters.base import CancelToken
from engine.costs import recorded
from engine.events import Event, Recorder
from engine.pipeline import enforce, log_path, operate, perceive, refuse, retry_policy, train
from engine.progress import Progress
from engine.reaper import end_run
from engine.resilience import BreakerChange
from engine.router import Blocked, Route, Router
from engine.states import RUN_TERMINAL, STEP_ALLOWED, STEP_TERMINAL, transition
from engine.stats import StatsBook
from engine.toolconfig import load_router_config
from engine.workdir import cwd_outside
from engine.workers import STALE_SECONDS, Worker, is_lost
from schemas.durations import parse_duration
from schemas.execution import ExecutionRequest, ExecutionResult
from schemas.records import AttemptRecord, CommandRecord, ProgressSnapshot
from schemas.router import RouterConfig
from schemas.states import RunState, StepState, WorkerState
from schemas.workstream import Budget, RetryPolicy
from store import Store, ops, queries
from store.codec import dumps
from store.errors import OwnershipLost, StoreFailed
from store.ops import STEP_ROW_SQL
from store.writer import EVENT_SQL, RowImage

OUTPUT_EVENT_SECONDS = 1.0
HOUSEKEEPING_SECONDS = 1.0
#: Why an attempt whose engine was lost is recorded as crashed (losses are counted by it).
ENGINE_LOST = "the engine running this attempt was lost"
#: How many engine losses in a row a step survives before it fails.
MAX_ENGINE_LOSSES = 3

if TYPE_CHECKING:
    from engine.patches.steps import PatchInfo, PatchSteps

S = StepState
_STEP_STATES = {state.value: state for state in StepState}


def _losses_in_a_row(attempts: list[AttemptRecord]) -> int:
    """How many of a step's finished attempts, newest first, crashed because their engine was
    lost, up to the first that ended another way (a real failure or success resets it)."""
    count = 0
    for attempt in sorted(attempts, key=lambda a: a.number, reverse=True):
        if attempt.state == "running":
            continue
        if attempt.state != "crashed" or attempt.error != ENGINE_LOST:
            break
        count += 1
    return count


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
    step_id: str
    number: int
    route: Route
    request: ExecutionRequest
    cancel: asyncio.Event
    task: asyncio.Task[Any] | None
    started: float
    started_ts: float


class RunExecutor:
    def __init__(
        self,
        store: Store,
        run_id: str,
        worker: Worker,
        recorder: Recorder,
        *,
        router_config: RouterConfig | None = None,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        dedicated: bool = False,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.worker = worker
        self.rec = recorder
        self._bus = recorder.bus
        self._submit = store.writer.submit  # the hot path skips Store.submit's indirection
        self._holds = store.writer.holds
        self._owner = worker.id  # every write names it, three times per step
        self.clock = clock
        self.rng = random.Random(seed)
        self.dedicated = dedicated
        run = queries.get_run(run_id)
        self.run = run
        self.root = Path(run.root)
        self._root_text = run.root  # perceive formats it into two paths per attempt
        self.spec = queries.run_spec(run_id)
        self.router_config = router_config or load_router_config(self.root)
        self.max_parallel = int(self.spec.get("max_parallel", run.max_parallel))
        raw_timeout = self.spec.get("timeout")
        self.default_timeout: float | None = parse_duration(raw_timeout) if raw_timeout is not None else None
        self.default_retry = RetryPolicy.model_validate(self.spec["retry"]) if self.spec.get("retry") else None
        self.budget = Budget.model_validate(self.spec["budget"]) if self.spec.get("budget") else None
        self.stop_on_failure = self.spec.get("on_failure") == "stop"

        self.state: dict[str, StepState] = {}
        self.specs: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, str] = {}
        self.needs: dict[str, list[str]] = {}
        self.children: dict[str, list[str]] = {}
        self.waiting: dict[str, int] = {}
        self.rows: dict[str, Row] = {}
        self.queues: dict[str, deque[str]] = {}
        self.delayed: set[str] = set()
        self.running: dict[str, Running] = {}
        self._done: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.canceling: str | None = None
        self.pausing: str | None = None
        self.halted: str | None = None
        spent = queries.cost_totals((), run_id)
        self.tokens_used = (spent[0].tokens_in + spent[0].tokens_out) if spent else 0
        self.usd_used = spent[0].usd if spent else 0.0
        self.session_started: float | None = None
        self.stats = StatsBook(queries.tool_stats())
        self.router = Router(self.router_config, self.stats, queries.breakers())
        self._dirty_breakers: set[str] = set()
        self.progress: Progress | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self.reopen_on_start: list[str] = []
        self.patch_steps: PatchSteps | None = None

    # -- recording helpers -----------------------------------------------------------------

    def _event(self, kind: str, step_id: str | None = None, **data: Any) -> Event:
        return Event(self.clock(), kind, self.run_id, step_id, data)

    def _step_move(self, sid: str, target: StepState, extra: tuple = (), **data: Any) -> None:
        self._move(sid, target, extra, data)

    def _move(self, sid: str, target: StepState, extra: tuple, data: dict[str, Any]) -> None:
        """Move a step, writing its row image (plus ``extra``) and its event as one unit.

        This runs three times per step, so it builds the unit itself rather than going through
        the generic Recorder path; the states are StrEnums and go into SQL and JSON as strings.
        """
        source = self.state[sid]
        if target not in STEP_ALLOWED[source]:
            transition("step", source, target, sid)
        self.state[sid] = target
        row = self.rows[sid]
        data["from"] = source
        data["to"] = target
        ts = self.clock()
        run_id = self.run_id
        self._submit((
            RowImage(STEP_ROW_SQL, (run_id, sid), (target, row.tool, row.attempts, row.base, row.exit_code,
                                                   row.started_at, row.ended_at, row.reason, run_id, sid)),
            *extra,
            (EVENT_SQL, (ts, run_id, sid, "step.state", dumps(data))),
        ), self._owner)
        if self._bus.active:
            self._bus.publish(Event(ts, "step.state", run_id, sid, data))

    def _run_move(self, target: RunState, reason: str | None = None, held: bool = False, **fields: Any) -> Event | None:
        """Move the run, writing its row and event as one unit. ``held``: the event is written
        but not told to the listeners; the caller tells them once the store has it."""
        source = self.run.state
        if source is target:
            return None
        transition("run", source, target, self.run_id)
        self.run = self.run.model_copy(update={"state": target, "reason": reason})
        now = self.clock()
        stmt = ops.run_state(
            self.run_id,
            target.value,
            started_at=now if target is RunState.RUNNING else None,
            ended_at=now if target in RUN_TERMINAL or target is RunState.PAUSED else None,
            reason=reason,
            clear_end=target is RunState.RUNNING,
        )
        event = self._event("run.state", **{"from": source.value, "to": target.value, "reason": reason}, **fields)
        if held:
            self.store.submit([stmt, ops.insert_event(event.ts, event.kind, event.run_id, None, event.data)],
                              self.rec.owner)
        else:
            self.rec.write([stmt], [event])
        return event

    def _breaker_change(self, change: BreakerChange | None) -> None:
        if change is None:
            return
        breaker = self.router.breaker(change.tool)
        snap = breaker.snapshot(self.clock())
        self.rec.write(
            [ops.upsert_breaker(snap.tool, snap.state.value, snap.consecutive_failures, snap.window, snap.opened_at,
                                snap.probe_started_at, snap.updated_at)],
            [self._event("breaker.state", tool=change.tool, **{"from": change.source.value, "to": change.target.value},
                         reason=change.reason, next_probe_at=breaker.next_probe_at())],
        )
        self._dirty_breakers.discard(change.tool)

    def _housekeeping(self) -> None:
        statements = self.stats.flush()
        now = self.clock()
        for tool in sorted(self._dirty_breakers):
            snap = self.router.breaker(tool).snapshot(now)
            statements.append(ops.upsert_breaker(snap.tool, snap.state.value, snap.consecutive_failures, snap.window,
                                                 snap.opened_at, snap.probe_started_at, snap.updated_at))
        self._dirty_breakers.clear()
        if self.progress is not None:
            statements.append(ops.run_counts(self.run_id, self.progress.finished, self.progress.counts["failed"]))
        if statements:
            self.rec.write(statements)

    # -- loading and recovery ---------------------------------------------------------------

    def _load(self, operator_resume: bool, previous: str | None = None) -> None:
        steps = queries.step_rows(self.run_id)
        for step in steps:
            self.state[step.id] = _STEP_STATES[step.state]
            spec = self.specs[step.id] = step.spec  # decoded for us alone: adding the kind is safe
            spec["kind"] = step.kind
            self.keys[step.id] = self.router.key(spec)
            self.needs[step.id] = step.needs
            self.rows[step.id] = Row(step.tool, step.attempts, step.attempt_base, step.exit_code, step.started_at,
                                     step.ended_at, step.reason)
            self.children.setdefault(step.id, [])
        for step in steps:
            for need in step.needs:
                self.children[need].append(step.id)

        crashed = queries.running_attempts(self.run_id)
        ended, markers = self._end_orphans(crashed, previous)
        unrecorded = self._unrecorded(markers)
        lost_now = Counter(a.step_id for a in crashed)
        lost_before = {sid: _losses_in_a_row(queries.attempts(self.run_id, sid))
                       for sid in {*lost_now, *(sid for sid, _n in unrecorded)}}
        for sid, number in unrecorded:
            self._record_unrecorded(sid, number)
            lost_now[sid] += 1
        for attempt in crashed:
            now = self.clock()
            self.rec.write(
                [ops.finish_attempt(self.run_id, attempt.step_id, attempt.number, "crashed", now, None,
                                    ENGINE_LOST, None, None, None, None)],
                [self._event("attempt.crashed", attempt.step_id, attempt=attempt.number, tool=attempt.tool,
                             worker=attempt.worker_id, reaped_pid=attempt.pid if attempt.pid in ended else None)],
            )
        for sid, state in list(self.state.items()):
            if state in (S.RUNNING, S.RETRYING):
                if sid in lost_now:
                    self._recover_lost(sid, state, lost_now[sid], lost_before[sid])
                    continue
                if state is S.RETRYING:
                    continue
                policy = retry_policy(self.specs[sid], self.default_retry)
                row = self.rows[sid]
                verdict = enforce(ExecutionResult(outcome="crashed", error="the engine was lost"), policy,
                                  row.attempts - row.base, self.rng, False)
                if state is S.RUNNING:
                    if verdict.state == "retrying":
                        self._step_move(sid, S.RETRYING, reason="recovered after a crash")
                    else:
                        self._finish_step(sid, S.FAILED, None, verdict.reason, None)
                elif verdict.state != "retrying":
                    self._finish_step(sid, S.FAILED, None, verdict.reason, None)
            elif operator_resume and state in (S.FAILED, S.SKIPPED, S.CANCELED):
                self._reopen(sid)
        stack = [sid for sid in self.reopen_on_start if self.state.get(sid) in (S.FAILED, S.SKIPPED, S.CANCELED)]
        for sid in stack:
            self._reopen(sid)
        while stack:
            for child in self.children[stack.pop()]:
                if self.state[child] in (S.SKIPPED, S.CANCELED):
                    self._reopen(child)
                    stack.append(child)
        # What recovery decided is committed before any child starts: a step that kills its
        # engine within the writer's window would otherwise take the losses' count with it.
        self.store.sync()

    def _end_orphans(self, running: list[AttemptRecord], previous: str | None) -> tuple[set[int], set[str]]:
        """End whatever a previous engine of this run left running, before anything starts.

        An attempt's row is written with the step's move to running, in the batch that commits
        within the writer's window (10 ms) of the spawn, so an engine that dies in that gap
        leaves a child the store knows nothing of: not even its pid. Committing the row before
        each spawn would close the gap at the price of a commit of its own per attempt (the
        batch's row images of one step, ready, running and finished, would no longer merge);
        instead every child carries its attempt's marker, and this sweep finds it by marker (and
        by the recorded leaders' groups and sessions) before the run dispatches anything, so
        the resumed run never starts an attempt beside its orphan. A fresh run (pending, and
        no engine held it before: ``previous``) has nothing to sweep; one whose engine died
        before it recorded the run's start has. Returns the pids ended and the attempt markers
        found on them."""
        if self.run.state is RunState.PENDING and previous is None:
            return set(), set()
        swept = end_run(self.run_id, [(a.pid, a.started_at) for a in running if a.pid])
        if swept.ended:
            self.rec.event(self._event("run.orphans_ended", pids=swept.ended[:50], count=len(swept.ended),
                                       attempts=sorted(swept.markers)[:50]))
        return set(swept.ended), swept.markers

    def _unrecorded(self, markers: set[str]) -> list[tuple[str, int]]:
        """Attempts whose children were found running (by their marker) though the store never
        recorded them: the next attempt of a step that is waiting to run."""
        found = []
        for marker in sorted(markers):
            _run, sid, number = marker.rsplit(":", 2)
            row = self.rows.get(sid)
            if (row is not None and number.isdigit() and int(number) == row.attempts + 1
                    and self.state[sid] in (S.PENDING, S.READY, S.RETRYING)):
                found.append((sid, int(number)))
        return found

    def _record_unrecorded(self, sid: str, number: int) -> None:
        """Record an attempt the dead engine started but did not get to record, as what it was:
        running, and crashed with its engine. Its loss then counts like any other, so a step
        that kills its engine at once cannot loop forever either."""
        row = self.rows[sid]
        row.attempts = number
        now = self.clock()
        if row.started_at is None:
            row.started_at = now
        tool = row.tool or "unknown"
        if self.state[sid] is S.PENDING:  # the engine died before it recorded even that the step was ready
            self._step_move(sid, S.READY)
        self._step_move(sid, S.RUNNING, (ops.attempt_row(self.run_id, sid, number, tool, "crashed", None, now, now,
                                                         log_path=log_path(self._root_text, self.run_id, sid, number),
                                                         error=ENGINE_LOST),),
                        attempt=number, tool=tool, reason="found running after its engine was lost, unrecorded")
        self.rec.event(self._event("attempt.crashed", sid, attempt=number, tool=tool, worker=None, reaped_pid=None))

    def _recover_lost(self, sid: str, state: StepState, now: int, before: int) -> None:
        """A step whose attempt crashed because its engine was lost: the crash is not the
        step's failure, so it does not count against ``max_attempts`` (the attempt base moves
        past it, as an operator's retry does) and the step runs again. A step that keeps
        losing its engine (one that kills it, or that starves the machine) must not loop
        forever: after ``MAX_ENGINE_LOSSES`` in a row it fails, saying so."""
        row = self.rows[sid]
        row.base += now
        losses = before + now
        if losses >= MAX_ENGINE_LOSSES:
            self._finish_step(sid, S.FAILED, None, f"the engine was lost {losses} times in a row while running this "
                                                   f"step (at most {MAX_ENGINE_LOSSES})", None)
        elif state is S.RUNNING:
            self._step_move(sid, S.RETRYING, reason=f"the engine was lost ({losses} of {MAX_ENGINE_LOSSES} times in "
                                                    "a row); running the step again, retries untouched")

    def _reopen(self, sid: str) -> None:
        row = self.rows[sid]
        row.base, row.exit_code, row.ended_at, row.reason = row.attempts, None, None, None
        self._step_move(sid, S.PENDING, reason="reopened by operator")

    def _prepare(self) -> None:
        total = len(self.state)
        self.progress = Progress(self.run_id, total, self.max_parallel, self.clock())
        for state in self.state.values():
            if state in STEP_TERMINAL:
                self.progress.step_finished(state.value, None)
        for sid in self.state:
            self.waiting[sid] = sum(1 for n in self.needs[sid] if self.state[n] is not S.SUCCEEDED)
        for sid, state in self.state.items():
            if state in (S.FAILED, S.CANCELED, S.SKIPPED):
                self._skip_descendants(sid)
        for sid, state in self.state.items():
            if state is S.PENDING and self.waiting[sid] == 0:
                self._make_ready(sid)
            elif state in (S.READY, S.RETRYING):
                self._enqueue(sid)

    # -- scheduling -------------------------------------------------------------------------

    def _enqueue(self, sid: str) -> None:
        key = self.keys[sid]
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
        queue.append(sid)

    def _make_ready(self, sid: str) -> None:
        self._move(sid, S.READY, (), {})
        self._enqueue(sid)

    def _skip_descendants(self, sid: str) -> None:
        stack = [sid]
        while stack:
            parent = stack.pop()
            for child in self.children[parent]:
                if self.state[child] is S.PENDING:
                    self._finish_step(child, S.SKIPPED, None, f"needs {parent}, which {self.state[parent].value}", None)
                    stack.append(child)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers.append(asyncio.get_running_loop().call_later(max(0.0, delay), callback))

    def _dispatch(self) -> None:
        if self.canceling or self.pausing or self.halted:
            return
        if not self._holds(self._owner):
            raise self._lost()
        if self.budget is not None and self._budget_reached():
            return
        now = self.clock()
        for key in list(self.queues):
            queue = self.queues[key]
            while queue and len(self.running) < self.max_parallel:
                sid = queue[0]
                decision, change = self.router.route(key, self.specs[sid], now)
                self._breaker_change(change)
                if isinstance(decision, Blocked):
                    if decision.final:
                        queue.popleft()
                        self._fail_unroutable(sid, decision.reason)
                        continue
                    if decision.until is not None:
                        self._later(decision.until - now + 0.01, self._kick)
                    break
                queue.popleft()
                self._start(sid, decision)
            if not queue:
                del self.queues[key]
            if len(self.running) >= self.max_parallel:
                return

    def _fail_unroutable(self, sid: str, reason: str) -> None:
        """Perceive found no usable tool: record a failed attempt that never started a tool."""
        row = self.rows[sid]
        row.attempts += 1
        now = self.clock()
        names, _ = self.router.candidates(self.keys[sid])
        row.tool = names[0] if names else "none"
        if row.started_at is None:
            row.started_at = now
        self._step_move(sid, S.RUNNING, (ops.attempt_row(self.run_id, sid, row.attempts, row.tool, "running",
                                                         self.worker.id, now),),
                        attempt=row.attempts, tool=row.tool)
        result = ExecutionResult(outcome="failed", error=reason)
        self._finish_step(sid, S.FAILED, None, reason, (row.attempts, now, result, None))

    def _start(self, sid: str, route: Route) -> None:
        row = self.rows[sid]
        row.attempts += 1
        number = row.attempts
        tool = row.tool = route.tool
        now = self.clock()
        if row.started_at is None:
            row.started_at = now
        spec = self.specs[sid]
        patch = spec.get("produces") == "patch"
        # A patch step works in its scratch copy: that is its {root}, never the user's tree.
        request = perceive(run_id=self.run_id, step_id=sid, number=number, spec=spec, route=route,
                           root=self._root_text, default_timeout=self.default_timeout,
                           workdir=self._patch_steps().workdir(sid, number) if patch else None)
        data: dict[str, Any] = {"attempt": number, "tool": tool}
        if route.probe:
            data["probe"] = True
        if route.skipped:
            data["skipped"] = route.skipped
        self._move(sid, S.RUNNING, (ops.attempt_row(self.run_id, sid, number, tool, "running", self.worker.id, now,
                                                     log_path=request.log_path),), data)
        self.router.started(tool)
        assert self.progress is not None
        self.progress.running += 1
        cancel = CancelToken()
        if request.adapter == "python":
            on_output = on_spawn = None
        else:
            on_output = self._output_sink(sid, number)
            on_spawn = self._spawn_sink(sid, number, tool, now, request.log_path)
        if "cwd" in spec and (outside := cwd_outside(self._root_text, spec["cwd"])) is not None:
            work = refuse(outside)  # a link made after validation leads out of the project
        elif patch:
            network = spec.get("network")
            if network is None:
                network = bool(route.spec and route.spec.network)
            work = self._patch_steps().attempt(
                sid, number, spec, request,
                lambda req: operate(req, route, cancel, on_output, on_spawn), cancel,
                bool(route.spec and route.spec.diff_output), network)
        else:
            work = operate(request, route, cancel, on_output, on_spawn)
        assert self._loop is not None
        handle = Running(sid, number, route, request, cancel, None, time.monotonic(), now)
        handle.task = self._loop.create_task(self._attempt(handle, work))
        self.running[sid] = handle

    async def _attempt(self, handle: Running, work: Coroutine[Any, Any, Any]) -> None:
        """Run the attempt, then handle its end in the same task: no done-callback hop through
        the loop for each attempt. An exception from the adapter is the attempt's result."""
        try:
            outcome: Any = await work
        except asyncio.CancelledError:
            outcome = ExecutionResult(outcome="canceled", error="canceled")
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not take the run down
            outcome = ExecutionResult(outcome="crashed", error=f"adapter error: {type(exc).__name__}: {exc}")
        self._on_attempt_done(handle, outcome)

    def _spawn_sink(self, sid: str, number: int, tool: str, started: float, log: str | None) -> Callable[[int], None]:
        """Record the child's pid with the attempt, so a successor engine can kill what a
        crashed one left running."""

        def spawned(pid: int) -> None:
            self.store.submit((ops.attempt_row(self.run_id, sid, number, tool, "running", self.worker.id, started,
                                               log_path=log, pid=pid),), self.worker.id)

        return spawned

    def _output_sink(self, sid: str, number: int) -> Callable[[str], None]:
        last = [0.0]
        total = [0]

        def sink(text: str) -> None:
            total[0] += len(text)
            now = time.monotonic()
            if now - last[0] >= OUTPUT_EVENT_SECONDS:
                last[0] = now
                line = text.rstrip().rsplit("\n", 1)[-1][-200:]
                self.rec.event(self._event("step.output", sid, attempt=number, chars=total[0], line=line))

        return sink

    # -- completion -------------------------------------------------------------------------

    def _complete(self, handle: Running, outcome: ExecutionResult | tuple[ExecutionResult, PatchInfo]) -> None:
        sid = handle.step_id
        del self.running[sid]
        self.router.finished(handle.route.tool)
        assert self.progress is not None
        self.progress.running -= 1
        patch: PatchInfo | None = None
        if type(outcome) is tuple:
            result, patch = outcome
        else:
            result = outcome  # type: ignore[assignment]
        if handle.cancel.is_set() and result.outcome != "succeeded":
            result = result.replace(outcome="canceled")
        now = self.clock()
        change = train(self.router, self.stats, handle.route, result, now)
        if change is not None:
            self._breaker_change(change)
        else:
            self._dirty_breakers.add(handle.route.tool)
        # The attempt's row is its cost record (the costs view reads it): no row of its own.
        result, dropped = recorded(handle.route.spec, result)
        for field, value, why in dropped:
            self.rec.event(self._event("attempt.warning", sid, attempt=handle.number, tool=handle.route.tool,
                                       field=field, value=value, reason=f"{field} {value!r}: {why}"))
        tokens = result.tokens
        if tokens is not None:
            self.tokens_used += tokens
        if result.usd is not None:
            self.usd_used += result.usd
        if patch is not None and patch.gate_passed is False and result.outcome == "succeeded":
            if self._fix_round(handle, patch, result, now):
                return
            result = result.replace(outcome="failed", exit_code=None,
                                    error=f"gate {patch.gate} failed for patch {patch.patch_id}: "
                                          f"{patch.feedback.splitlines()[0] if patch.feedback else ''}")
        attempt = (handle.number, handle.started_ts, result, handle.request.log_path)
        if result.outcome == "succeeded":  # what enforce says of every success, without asking it
            self._finish_step(sid, S.SUCCEEDED, result.exit_code, None, attempt)
            waiting, state = self.waiting, self.state
            for child in self.children[sid]:
                left = waiting[child] = waiting[child] - 1
                if left == 0 and state[child] is S.PENDING:
                    self._make_ready(child)
            return
        policy = retry_policy(self.specs[sid], self.default_retry)
        verdict = enforce(result, policy, handle.number - self.rows[sid].base, self.rng, bool(self.canceling))
        if verdict.state == "retrying":
            self._step_move(
                sid,
                S.RETRYING,
                (self._attempt_image(sid, attempt, now),),
                attempt=handle.number, outcome=result.outcome, exit_code=result.exit_code, reason=verdict.reason,
                delay=round(verdict.delay, 3),
            )
            self.delayed.add(sid)
            self._later(verdict.delay, lambda: self._retry_due(sid))
        else:
            target = S.CANCELED if verdict.state == "canceled" else S.FAILED
            self._finish_step(sid, target, result.exit_code, verdict.reason, attempt)
            if target is S.FAILED:
                self._skip_descendants(sid)
                if self.stop_on_failure and not self.halted:
                    self.halted = f"step {sid} failed and on_failure is stop"

    def _fix_round(self, handle: Running, patch: PatchInfo, result: ExecutionResult, now: float) -> bool:
        """A gate failed: when the step's fix loop has rounds left, start the next round at once,
        with the failure as the tool's input. False when the loop is spent (or there is none)."""
        sid = handle.step_id
        fix = self.specs[sid].get("fix_loop")
        steps = self._patch_steps()
        done_rounds = steps.rounds[sid].number if sid in steps.rounds else 1
        if fix is None or done_rounds > int(fix.get("max_rounds", 2)) or self.canceling:
            return False
        round_ = steps.next_round(sid, patch)
        attempt = (handle.number, handle.started_ts, result, handle.request.log_path)
        self._step_move(sid, S.RETRYING, (self._attempt_image(sid, attempt, now),), attempt=handle.number,
                        outcome=result.outcome, patch=patch.patch_id,
                        reason=f"gate {patch.gate} failed; fix round {round_.number - 1} of {fix.get('max_rounds', 2)}",
                        delay=0)
        self.rows[sid].base += 1  # a fix round is not a retry: it does not use up retry attempts
        self._enqueue(sid)
        return True

    def _patch_steps(self) -> PatchSteps:
        # Imported here: runs without patch steps never load git or the ledger.
        from engine.patches.steps import PatchSteps
        from engine.patches.worktree import head_commit

        if self.patch_steps is None:
            base = self.spec.get("base_commit")
            if base is None:
                base = head_commit(self.root)
                if base is not None:
                    self.spec["base_commit"] = base
                    self.rec.write([ops.run_spec(self.run_id, self.spec)])
            self.patch_steps = PatchSteps(self.rec, self.root, self.run_id, base, self.spec.get("gates", {}),
                                          self.default_timeout)
        return self.patch_steps

    def _attempt_image(self, sid: str, attempt: tuple[int, float, ExecutionResult, str | None], now: float,
                       ran: bool = True) -> Any:
        """The finished attempt's row; ``ran`` is False for one that never started a tool, which
        then has no duration and is not listed among costs."""
        number, started, result, log = attempt
        return ops.attempt_row(self.run_id, sid, number, self.rows[sid].tool or "none", result.outcome,
                               self.worker.id, started, now, result.exit_code, log, result.error,
                               result.tokens_in, result.tokens_out, result.usd, result.model,
                               tokens_cached=result.tokens_cached, duration=result.duration if ran else None)

    def _finish_step(self, sid: str, target: StepState, exit_code: int | None, reason: str | None,
                     attempt: tuple[int, float, ExecutionResult, str | None] | None) -> None:
        now = self.clock()
        row = self.rows[sid]
        row.exit_code, row.ended_at, row.reason = exit_code, now, reason
        extra: tuple = ()
        data: dict[str, Any] = {}
        if attempt is not None:
            # An attempt with no log path never started a tool (see _fail_unroutable).
            extra = (self._attempt_image(sid, attempt, now, ran=attempt[3] is not None),)
            number, _started, result, _log = attempt
            data = {"attempt": number, "outcome": result.outcome, "exit_code": exit_code,
                    "duration": round(result.duration, 4)}
            tokens = result.tokens
            if tokens is not None:
                data["tokens"] = tokens
        if reason:
            data["reason"] = reason
        self._move(sid, target, extra, data)
        if self.progress is not None:
            started = row.started_at
            self.progress.step_finished(target, (now - started) if started is not None and attempt else None)

    def _retry_due(self, sid: str) -> None:
        self.delayed.discard(sid)
        if self.state.get(sid) is S.RETRYING:
            self._enqueue(sid)
        self._kick()

    # -- budget ----------------------------------------------------------------------------

    def wall_used(self) -> float:
        """Seconds this run has been executing, over every engine session (pauses excluded)."""
        session = self.clock() - self.session_started if self.session_started is not None else 0.0
        return float(self.spec.get("executed_seconds", 0.0)) + session

    def _budget_reached(self) -> bool:
        """Checked before every attempt: the first budget reached pauses the run (running
        attempts finish); ``uet resume RUN --budget …`` raises it and goes on."""
        assert self.budget is not None
        found: tuple[str, float, float] | None = None
        if self.budget.usd is not None and self.usd_used >= self.budget.usd:
            found = ("usd", self.usd_used, self.budget.usd)
        elif self.budget.tokens is not None and self.tokens_used >= self.budget.tokens:
            found = ("tokens", self.tokens_used, self.budget.tokens)
        elif self.budget.wall is not None and self.wall_used() >= self.budget.wall:
            found = ("wall", self.wall_used(), self.budget.wall)
        if found is None:
            return False
        if not self.pausing:
            name, used, limit = found
            shown = {"usd": lambda v: f"${v:,.4f}", "tokens": lambda v: f"{int(v):,} tokens",
                     "wall": lambda v: f"{v:,.1f}s"}[name]
            self.pausing = f"{name} budget reached: {shown(used)} of {shown(limit)}"
            self.rec.event(self._event("budget.reached", budget=name, used=round(used, 6), limit=limit,
                                       reason=self.pausing))
        return True

    # -- control ---------------------------------------------------------------------------

    def request_cancel(self, reason: str = "canceled by operator") -> None:
        if self.canceling:
            return
        self.canceling = reason
        for handle in self.running.values():
            handle.cancel.set()
            if handle.request.adapter == "python" and handle.task is not None:
                handle.task.cancel()
        self._kick()

    def request_pause(self, reason: str = "paused by operator") -> None:
        if not self.pausing:
            self.pausing = reason
        self._kick()

    def retry_step(self, sid: str) -> str:
        if sid not in self.state:
            return f"no step {sid!r}"
        state = self.state[sid]
        if state not in (S.FAILED, S.CANCELED, S.SKIPPED):
            return f"step {sid} is {state.value}; only failed, canceled or skipped steps are retried"
        reopened = [sid]
        self._reopen(sid)
        assert self.progress is not None
        self.progress.step_reopened(state.value)
        stack = [sid]
        while stack:
            parent = stack.pop()
            for child in self.children[parent]:
                if self.state[child] in (S.SKIPPED, S.CANCELED):
                    self.progress.step_reopened(self.state[child].value)
                    self._reopen(child)
                    reopened.append(child)
                    stack.append(child)
        for step_id in reopened:
            self.waiting[step_id] = sum(1 for n in self.needs[step_id] if self.state[n] is not S.SUCCEEDED)
            if self.waiting[step_id] == 0:
                self._make_ready(step_id)
        self.halted = None
        self._kick()
        return f"retrying {sid}" + (f" and {len(reopened) - 1} dependent steps" if len(reopened) > 1 else "")

    async def handle_command(self, command: CommandRecord) -> str:
        kind = command.kind.value
        if kind == "cancel":
            self.request_cancel(command.args.get("reason") or f"canceled by {command.created_by or 'operator'}")
            return "canceling"
        if kind == "pause":
            self.request_pause(command.args.get("reason") or f"paused by {command.created_by or 'operator'}")
            return "pausing"
        if kind == "resume":
            if command.args.get("budget"):
                merged = {**(self.budget.model_dump(exclude_none=True) if self.budget else {}), **command.args["budget"]}
                self.budget = Budget.model_validate(merged)
                self.spec["budget"] = self.budget.model_dump(mode="json", exclude_none=True)
                self.rec.write([ops.run_spec(self.run_id, self.spec)],
                               [self._event("budget.raised", budget=self.spec["budget"], by=command.created_by)])
            if self.pausing:
                self.pausing = None
                self._kick()
                return "resumed"
            return "not paused"
        if kind == "retry":
            return self.retry_step(str(command.args.get("step", "")))
        return f"{kind} is not a run command"

    # -- the loop --------------------------------------------------------------------------

    def progress_snapshot(self) -> ProgressSnapshot | None:
        return self.progress.snapshot(self.clock()) if self.progress else None

    def _idle(self) -> bool:
        return not self.running and not self.delayed and not any(self.queues.values())

    async def execute(self, *, operator_resume: bool = False) -> RunState:
        previous = self.store.claim_run(self.run_id, self.worker.id, is_lost)
        self.worker.move(WorkerState.BUSY)
        unwatch = self.store.writer.watch(self._store_failed)
        try:
            return await self._execute(operator_resume, previous)
        except OwnershipLost:
            await self._abandon()
            raise
        except StoreFailed as exc:
            stopped = len(self.running)
            await self._abandon()
            raise self._store_lost(exc, stopped) from exc.__cause__ or exc
        except Exception as exc:
            # A bug, or an error raised in a callback (a step's log on a full disk): stop the
            # children rather than leave them to a later engine. A store that cannot take the
            # record either is the truth to tell: its failure names the file and the cause.
            stopped = len(self.running)
            await self._abandon()
            if self.store.writer.failed is None:
                with contextlib.suppress(StoreFailed):
                    self.store.sync()
            failure = self.store.writer.failed
            if failure is None:
                raise
            raise self._store_lost(failure, stopped) from exc
        finally:
            if self.dedicated:
                gc.unfreeze()
            for timer in self._timers:
                timer.cancel()
            unwatch()
            if self.store.writer.failed is None:  # else nothing can be written, and the cause is on its way up
                self.worker.move(WorkerState.IDLE)
                self.store.release_run(self.run_id, self.worker.id)
                self.store.sync()

    def _store_lost(self, failure: StoreFailed, stopped: int) -> StoreFailed:
        children = f"its {stopped} running step(s) were stopped and " if stopped else ""
        return StoreFailed(f"{failure} while run {self.run_id} ran; {children}nothing more was recorded")

    def fail(self, exc: BaseException) -> bool:
        """End the run with ``exc``, raised where nobody would see it (the writer stopped: disk
        full, read-only, file gone; an exception in a loop callback); ``execute`` stops the
        children and raises it. False when the run is not executing (any more)."""
        done = self._done
        if done is None or done.done():
            return False
        done.set_exception(exc)
        return True

    def _store_failed(self, failure: StoreFailed) -> None:
        self.fail(failure)

    def _on_attempt_done(self, handle: Running, outcome: Any) -> None:
        try:
            self._complete(handle, outcome)
        except BaseException as exc:  # a bug here must end the run loudly, not hang it
            if self._done is not None and not self._done.done():
                self._done.set_exception(exc)
            return
        self._kick()

    def _kick(self) -> None:
        """Something changed (an attempt ended, a timer fired, a command arrived): start what
        can start, and end the loop when nothing is left to wait for. Runs in loop callbacks,
        so completions are handled without waking a coroutine for each one."""
        done = self._done
        if done is None or done.done():
            return
        try:
            self._dispatch()
        except BaseException as exc:
            done.set_exception(exc)
            return
        if self._idle() or (not self.running and (self.canceling or self.pausing or self.halted)):
            done.set_result(None)

    def _tick(self) -> None:
        done = self._done
        try:
            # SQLite writes on into a deleted or replaced database file without a word: the one
            # stat call a second that notices is what keeps a run from ending 'succeeded' unkept.
            self.store.check_file()
            self._housekeeping()
            if done is not None and not done.done() and not self._holds(self.worker.id):
                done.set_exception(self._lost())
                return
        except BaseException as exc:  # a callback's exception would only be printed: end the run with it
            if done is not None and not done.done():
                done.set_exception(exc)
            return
        self._later(HOUSEKEEPING_SECONDS, self._tick)

    def _lost(self) -> OwnershipLost:
        return OwnershipLost(
            f"run {self.run_id} was taken over by another engine: this one was declared lost (its heartbeat "
            f"went stale for over {STALE_SECONDS:g}s: the process was stopped, suspended or starved); it stopped "
            "its children and recorded nothing more")

    async def _abandon(self) -> None:
        """Ownership is gone: stop this engine's children (another engine runs the steps now)
        and wait for them; whatever their attempts report is dropped by the store."""
        # What happens from here is not recorded, so no listener (the live display) hears of it.
        self._bus.active = False
        tasks = [handle.task for handle in self.running.values() if handle.task is not None]
        for handle in self.running.values():
            handle.cancel.set()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    async def _execute(self, operator_resume: bool, previous: str | None) -> RunState:
        self.run = queries.get_run(self.run_id)
        if previous is not None or (self.run.state is RunState.RUNNING):
            self.rec.event(self._event("run.recovered", previous_worker=previous))
        self._load(operator_resume, previous)
        if self.run.state is not RunState.RUNNING:
            self._run_move(RunState.RUNNING, "resumed" if self.run.state is not RunState.PENDING else None)
        self._prepare()
        if self.dedicated:
            # The process exists for this run, and what was just loaded lives as long as the run:
            # keep it out of the collector's full passes, which otherwise scan every step's
            # objects again and again (at 100,000 steps they made each step 1.25x as costly).
            gc.freeze()
        self.session_started = self.clock()
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        if self.store.writer.failed is not None:
            self._done.set_exception(self.store.writer.failed)
        self._later(HOUSEKEEPING_SECONDS, self._tick)
        self._kick()
        await self._done
        return self._finish()

    def _finish(self) -> RunState:
        self.spec["executed_seconds"] = round(self.wall_used(), 3)
        self.session_started = None
        self.rec.write([ops.run_spec(self.run_id, self.spec)])
        if self.canceling or self.halted:
            for sid, state in self.state.items():
                if state in (S.PENDING, S.READY, S.RETRYING):
                    self._finish_step(sid, S.CANCELED if self.canceling else S.SKIPPED, None,
                                      self.canceling or self.halted, None)
        self._housekeeping()
        if self.canceling:
            end = self._run_move(RunState.CANCELED, self.canceling, held=True)
        elif self.pausing:
            end = self._run_move(RunState.PAUSED, self.pausing, held=True)
        elif all(state is S.SUCCEEDED for state in self.state.values()):
            end = self._run_move(RunState.SUCCEEDED, held=True)
        else:
            failed = [sid for sid, state in self.state.items() if state is S.FAILED]
            end = self._run_move(RunState.FAILED, f"{len(failed)} step(s) failed: {', '.join(failed[:5])}" if failed
                                 else self.halted or "not every step succeeded", held=True)
        # The run's end is told only once the store has it, in the file it opened: a display must
        # never say a run ended when the store does not (StoreFailed goes up instead).
        self.store.sync()
        self.store.check_file()
        if end is not None and self._bus.active:
            self._bus.publish(end)
        return self.run.state

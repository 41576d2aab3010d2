"""The run executor: drives one run's DAG to the end.

``RunExecutor`` holds the run's life and is what the session, the host and the faces
construct: it claims the run (one owner at a time), has the run's recovery settled
(``engine.run.recovery``), moves the run's state, keeps its lease (the housekeeping tick that
also checks the database file), takes control commands (cancel, pause, resume, retry through
``handle_command``) and finishes the run. What it is composed of, each testable alone, lives
in ``engine.run``: the step table every move goes through (``table``), the spending against
the budget (``budget``), the queues per routing key and the limits (``dispatch``), and an
attempt's start and the verdict on its end (``attempts``).

Everything happens in loop callbacks: an attempt's end, a timer or a command calls ``_kick``,
which starts what can start and ends the loop when nothing is left to wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.events import Event, Recorder
from engine.memory import catch_up, harvest
from engine.progress import Progress
from engine.router import Router
from engine.run.attempts import Attempts
from engine.run.budget import Spend
from engine.run.dispatch import Dispatcher
from engine.run.recovery import ENGINE_LOST, MAX_ENGINE_LOSSES, Recovery
from engine.run.table import Row, Running, StepTable, Stops
from engine.states import RUN_TERMINAL, STEP_TERMINAL, transition
from engine.stats import StatsBook
from engine.toolconfig import load_router_config
from engine.workers import STALE_SECONDS, Worker, is_lost
from schemas.durations import parse_duration
from schemas.records import CommandRecord, ProgressSnapshot
from schemas.router import RouterConfig
from schemas.states import RunState, StepState, WorkerState
from schemas.workstream import Budget, RetryPolicy
from store import Store, ops, queries
from store.errors import OwnershipLost, StoreFailed
from store.tool_totals import kind_stats

__all__ = ["ENGINE_LOST", "HOUSEKEEPING_SECONDS", "MAX_ENGINE_LOSSES", "RunExecutor", "Running"]

HOUSEKEEPING_SECONDS = 1.0

S = StepState
_STEP_STATES = {state.value: state for state in StepState}


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
        self._holds = store.writer.holds
        self._owner = worker.id  # every write names it, three times per step
        self.clock = clock
        self.rng = random.Random(seed)
        self.dedicated = dedicated
        run = queries.get_run(run_id)
        self.run = run
        self.root = Path(run.root)
        self.spec = queries.run_spec(run_id)
        self.router_config = router_config or load_router_config(self.root)
        self.max_parallel = int(self.spec.get("max_parallel", run.max_parallel))
        raw_timeout = self.spec.get("timeout")
        default_timeout: float | None = parse_duration(raw_timeout) if raw_timeout is not None else None
        default_retry = RetryPolicy.model_validate(self.spec["retry"]) if self.spec.get("retry") else None
        budget = Budget.model_validate(self.spec["budget"]) if self.spec.get("budget") else None

        self._done: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stops = Stops()
        spent = queries.cost_totals((), run_id)
        self.spend = Spend(budget, (spent[0].tokens_in + spent[0].tokens_out) if spent else 0,
                           spent[0].usd if spent else 0.0, float(self.spec.get("executed_seconds", 0.0)), clock)
        self.stats = StatsBook(queries.tool_stats())
        self.router = Router(self.router_config, self.stats, queries.breakers(), learned=kind_stats)
        self._timers: list[asyncio.TimerHandle] = []
        self.reopen_on_start: list[str] = []
        #: What the run's row says it does besides executing: (pausing, waiting_on, waiting_until).
        # From the row: what a lost engine left there is corrected by this one's first housekeeping.
        self._activity: tuple[str | None, str | None, float | None] = (run.pausing, run.waiting_on, run.waiting_until)
        #: The stored due times of the steps that were waiting when the run was loaded.
        self._dues: dict[str, float] = {}
        #: A patch with changes requested whose step runs its revision round (``--revise``).
        self.revise_on_start: str | None = None
        # The hot path submits through the writer itself, skipping Store.submit's indirection.
        self.table = StepTable(run_id, worker.id, clock, store.writer.submit, recorder.bus)
        self.dispatcher = Dispatcher(self.table, self.router, recorder, self.max_parallel,
                                     lambda delay: self._later(delay, self._kick))
        self.attempts = Attempts(
            self.table, self.dispatcher, self.spend, self.stops, store=store, rec=recorder, stats=self.stats,
            root=run.root, run_spec=self.spec, default_timeout=default_timeout, default_retry=default_retry,
            rng=self.rng, stop_on_failure=self.spec.get("on_failure") == "stop", later=self._later,
            kick=self._kick, ended=self._on_attempt_done)
        self.recovery = Recovery(self.table, recorder, run.root, default_retry, self.rng)
        self.table.hold = self.dispatcher.held_until  # a retry's event says when it can really run

    # -- what the faces read -----------------------------------------------------------------

    @property
    def running(self) -> dict[str, Running]:
        return self.dispatcher.running

    @property
    def tokens_used(self) -> int:
        return self.spend.tokens_used

    @property
    def usd_used(self) -> float:
        return self.spend.usd_used

    @property
    def progress(self) -> Progress | None:
        return self.table.progress

    def progress_snapshot(self) -> ProgressSnapshot | None:
        progress = self.table.progress
        return progress.snapshot(self.clock()) if progress else None

    @property
    def activity(self) -> tuple[str | None, str | None, float | None]:
        """What the run does besides executing, as its row says: (pausing, waiting_on, waiting_until);
        nothing once it no longer runs (its move cleared the row's too)."""
        return self._activity if self.run.state is RunState.RUNNING else (None, None, None)

    def wall_used(self) -> float:
        """Seconds this run has been executing, over every engine session (pauses excluded)."""
        return self.spend.wall_used()

    # -- recording helpers -----------------------------------------------------------------

    def _event(self, kind: str, step_id: str | None = None, **data: Any) -> Event:
        return Event(self.clock(), kind, self.run_id, step_id, data)

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

    def _housekeeping(self) -> None:
        statements = self.stats.flush()
        statements.extend(self.dispatcher.breaker_statements(self.clock()))
        progress = self.table.progress
        if progress is not None:
            counts = progress.counts
            statements.append(ops.run_counts(self.run_id, counts["succeeded"], counts["failed"], counts["skipped"],
                                             counts["canceled"], progress.running))
        if statements:
            self.rec.write(statements)
        self._note_activity()

    def _note_activity(self) -> None:
        """Record what the run is doing besides executing, when it changed: pausing (a pause was
        asked and running steps finish), or waiting on an open breaker with nothing executing.
        An event tells the faces; the run's next move clears both (``ops.run_state``)."""
        if self.run.state is not RunState.RUNNING:
            return
        pausing = self.stops.pausing if not self.stops.canceling else None
        held = None if pausing or self.stops.any() else self.dispatcher.waiting_on(self.clock())
        activity = (pausing, *(held or (None, None)))
        if activity == self._activity:
            return
        self._activity = activity
        data: dict[str, Any] = {"pausing": pausing, "running": len(self.dispatcher.running)} if pausing else {}
        if held:
            data = {"waiting_on": held[0], "waiting_until": round(held[1], 3)}
        self.rec.write([ops.run_activity(self.run_id, *activity)], [self._event("run.activity", **data)])

    # -- loading and recovery ---------------------------------------------------------------

    def _load(self, operator_resume: bool, previous: str | None = None) -> None:
        table, key = self.table, self.router.key
        for step in queries.step_rows(self.run_id):
            spec = step.spec  # decoded for us alone: adding the kind is safe
            spec["kind"] = step.kind
            if step.due_at is not None and step.state == "waiting":
                self._dues[step.id] = step.due_at  # kept: a recovered wait ends when it was due to
            table.add(step.id, _STEP_STATES[step.state], spec, key(spec), step.needs,
                      Row(step.tool, step.attempts, step.attempt_base, step.exit_code, step.started_at,
                          step.ended_at, step.reason))
        table.link()
        self.recovery.recover(self.run.state is RunState.PENDING and previous is None, previous, operator_resume,
                              self.reopen_on_start)
        if self.revise_on_start is not None and self._revisable(self.revise_on_start):
            self.recovery.reopen_for_revision(self.attempts.revise(self.revise_on_start), self.revise_on_start)
        for patch in queries.list_patches(self.run_id, state="changes_requested", limit=None):
            # A revision round an earlier engine of this run began and did not finish goes on as one.
            if patch.id != self.revise_on_start and table.state.get(patch.step_id) not in STEP_TERMINAL:
                self.attempts.revise(patch.id, again=True)
        # What recovery decided is committed before any child starts: a step that kills its
        # engine within the writer's window would otherwise take the losses' count with it.
        self.store.sync()

    def _revisable(self, patch_id: str) -> bool:
        """Whether the patch still waits for its revision round (another engine may have run it)."""
        patch = queries.get_patch(patch_id)
        return patch.run_id == self.run_id and patch.state.value == "changes_requested"

    def _prepare(self) -> None:
        table, dispatcher = self.table, self.dispatcher
        state = table.state
        progress = table.progress = Progress(self.run_id, len(state), self.max_parallel, self.clock())
        for step_state in state.values():
            if step_state in STEP_TERMINAL:
                progress.step_finished(step_state.value, None)
        for sid in state:
            table.waiting[sid] = table.unmet(sid)
        for sid, step_state in state.items():
            if step_state in (S.FAILED, S.CANCELED, S.SKIPPED):
                table.skip_descendants(sid)
        for sid, step_state in state.items():
            if step_state is S.PENDING and table.waiting[sid] == 0:
                dispatcher.make_ready(sid)
            elif step_state in (S.READY, S.RETRYING):
                dispatcher.enqueue(sid)
            elif step_state is S.WAITING:
                dispatcher.wait_until(sid, self._dues.get(sid, 0.0))

    # -- scheduling -------------------------------------------------------------------------

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers.append(asyncio.get_running_loop().call_later(max(0.0, delay), callback))

    def _dispatch(self) -> None:
        stops = self.stops
        if stops.canceling or stops.pausing or stops.halted:
            return
        if not self._holds(self._owner):
            raise self._lost()
        if self.spend.budget is not None and self._budget_reached():
            return
        self.dispatcher.dispatch(self.clock(), self.attempts.start)

    def _budget_reached(self) -> bool:
        """Checked before every attempt: the first budget reached pauses the run (running
        attempts finish); ``uet resume RUN --budget …`` raises it and goes on."""
        found = self.spend.reached()
        if found is None:
            return False
        if not self.stops.pausing:
            name, used, limit = found
            self.stops.pausing = Spend.describe(found)
            self.rec.event(self._event("budget.reached", budget=name, used=round(used, 6), limit=limit,
                                       reason=self.stops.pausing))
        return True

    # -- control ---------------------------------------------------------------------------

    def request_cancel(self, reason: str = "canceled by operator") -> None:
        if self.stops.canceling:
            return
        self.stops.canceling = reason
        for handle in self.dispatcher.running.values():
            handle.cancel.set()
            if handle.request.adapter == "python" and handle.task is not None:
                handle.task.cancel()
        self._kick()

    def request_pause(self, reason: str = "paused by operator") -> None:
        if not self.stops.pausing:
            self.stops.pausing = reason
        if self._done is not None and not self._done.done():
            self._note_activity()  # "pausing" is seen at once, while the running steps finish
        self._kick()

    def retry_step(self, sid: str) -> str:
        table = self.table
        if sid not in table.state:
            return f"no step {sid!r}"
        state = table.state[sid]
        if state not in (S.FAILED, S.CANCELED, S.SKIPPED):
            return f"step {sid} is {state.value}; only failed, canceled or skipped steps are retried"
        reopened = [sid]
        table.reopen(sid)
        progress = table.progress
        assert progress is not None
        progress.step_reopened(state.value)
        stack = [sid]
        while stack:
            parent = stack.pop()
            for child in table.children[parent]:
                if table.state[child] in (S.SKIPPED, S.CANCELED):
                    progress.step_reopened(table.state[child].value)
                    table.reopen(child)
                    reopened.append(child)
                    stack.append(child)
        for step_id in reopened:
            table.waiting[step_id] = table.unmet(step_id)
            if table.waiting[step_id] == 0:
                self.dispatcher.make_ready(step_id)
        self.stops.halted = None
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
                budget = self.spend.budget
                merged = {**(budget.model_dump(exclude_none=True) if budget else {}), **command.args["budget"]}
                budget = self.spend.budget = Budget.model_validate(merged)
                self.spec["budget"] = budget.model_dump(mode="json", exclude_none=True)
                self.rec.write([ops.run_spec(self.run_id, self.spec)],
                               [self._event("budget.raised", budget=self.spec["budget"], by=command.created_by)])
            if self.stops.pausing:
                self.stops.pausing = None
                self._note_activity()
                self._kick()
                return "resumed"
            return "not paused"
        if kind == "retry":
            return self.retry_step(str(command.args.get("step", "")))
        if kind == "reset_breaker":  # closed by a person (engine.breakers): what it held may start now
            breaker = self.router.breakers.get(str(command.args.get("tool", "")))
            if breaker is None:
                return "no such breaker in this run"
            breaker.reset()
            self._kick()
            return f"breaker {breaker.tool} closed"
        return f"{kind} is not a run command"

    # -- the loop --------------------------------------------------------------------------

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
            stopped = len(self.dispatcher.running)
            await self._abandon()
            raise self._store_lost(exc, stopped) from exc.__cause__ or exc
        except Exception as exc:
            # A bug, or an error raised in a callback (a step's log on a full disk): stop the
            # children rather than leave them to a later engine. A store that cannot take the
            # record either is the truth to tell: its failure names the file and the cause.
            stopped = len(self.dispatcher.running)
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
            self.attempts.complete(handle, outcome)
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
        dispatcher = self.dispatcher
        if dispatcher.idle() or (not dispatcher.running and self.stops.any()):
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
            if self.dispatcher.waiting:
                # Due times are wall-clock times and the loop's timers are not: after the wall
                # clock was set back, the timer rings early and only a later look starts the step.
                self._kick()
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
        running = self.dispatcher.running
        tasks = [handle.task for handle in running.values() if handle.task is not None]
        for handle in running.values():
            handle.cancel.set()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    async def _execute(self, operator_resume: bool, previous: str | None) -> RunState:
        self.run = queries.get_run(self.run_id)
        revising = self.revise_on_start is not None and self._revisable(self.revise_on_start)
        if not revising and (self.run.state is RunState.SUCCEEDED or (
                self.run.state in RUN_TERMINAL and not operator_resume and not self.reopen_on_start)):
            # Another engine ended the run between the caller's look and this claim (two
            # resumes at once): nothing is left to do, and restarting it would be a lie. An
            # operator's retry of a step of the ended run (reopen_on_start) is not late.
            return self.run.state
        if previous is not None or (self.run.state is RunState.RUNNING):
            self.rec.event(self._event("run.recovered", previous_worker=previous))
        self._load(operator_resume, previous)
        if self.run.state is not RunState.RUNNING:
            why = f"revision round of patch {self.revise_on_start}" if revising else "resumed"
            self._run_move(RunState.RUNNING, why if self.run.state is not RunState.PENDING else None)
        self._remember(catch_up, self.store)
        self._prepare()
        self._housekeeping()  # the counts of what recovery, a retry or a resume reopened, stored at once
        if self.dedicated:
            # The process exists for this run, and what was just loaded lives as long as the run:
            # keep it out of the collector's full passes, which otherwise scan every step's
            # objects again and again (at 100,000 steps they made each step 1.25x as costly).
            gc.freeze()
        self.spend.session_started = self.clock()
        self._loop = self.attempts.loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        if self.store.writer.failed is not None:
            self._done.set_exception(self.store.writer.failed)
        self._later(HOUSEKEEPING_SECONDS, self._tick)
        self._kick()
        await self._done
        return self._finish()

    def _remember(self, harvesting: Callable[..., Any], *args: Any) -> None:
        """Keep what runs taught (``engine.memory``): at this run's end, and at its start for the
        runs whose patches were decided since. A failure costs the lessons, never the run."""
        try:
            harvesting(*args)
        except Exception as exc:  # noqa: BLE001 - the run's own record is already kept
            self.rec.event(self._event("memory.failed", error=f"{type(exc).__name__}: {exc}"[:500]))

    def _finish(self) -> RunState:
        spend, stops, table = self.spend, self.stops, self.table
        spend.executed = self.spec["executed_seconds"] = round(spend.wall_used(), 3)
        spend.session_started = None
        self.rec.write([ops.run_spec(self.run_id, self.spec)])
        if stops.canceling or stops.halted:
            for sid, state in table.state.items():
                if state in (S.PENDING, S.WAITING, S.READY, S.RETRYING):
                    table.finish(sid, S.CANCELED if stops.canceling else S.SKIPPED, None,
                                 stops.canceling or stops.halted, None)
        self._housekeeping()
        if stops.canceling:
            end = self._run_move(RunState.CANCELED, stops.canceling, held=True)
        elif stops.pausing:
            end = self._run_move(RunState.PAUSED, stops.pausing, held=True)
        elif all(state is S.SUCCEEDED for state in table.state.values()):
            end = self._run_move(RunState.SUCCEEDED, held=True)
        else:
            failed = [sid for sid, state in table.state.items() if state is S.FAILED]
            end = self._run_move(RunState.FAILED, f"{len(failed)} step(s) failed: {', '.join(failed[:5])}" if failed
                                 else stops.halted or "not every step succeeded", held=True)
        # The run's end is told only once the store has it, in the file it opened: a display must
        # never say a run ended when the store does not (StoreFailed goes up instead).
        self.store.sync()
        self.store.check_file()
        self._remember(harvest, self.store, self.run_id)
        if end is not None and self._bus.active:
            self._bus.publish(end)
        return self.run.state

"""The engine's front door for the faces (CLI, dashboard): open a project's store, turn a plan
into a stored run, execute a run with a worker, heartbeat and command consumer around it, and
act on runs that no live engine owns (cancel, retry) directly in the store.

What executes (the runner, the controller, the worker, the reaper, asyncio) is imported by the
functions that execute, not with the module: the faces that only name the operator or create a
run (patch review, memory, the dashboard's start) do not pay for the engine.
"""

from __future__ import annotations

import contextlib
import getpass
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.events import Event, EventBus, Recorder
from engine.states import RUN_TERMINAL, STEP_TERMINAL, transition
from schemas.states import RunState, StepState, WorkerState
from store import Store, default_db_path, ops, queries

if TYPE_CHECKING:
    from engine.planner import Plan
    from engine.runner import RunExecutor
    from engine.workers import Worker


def operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def open_store(root: Path, db: Path | None = None) -> Store:
    return Store(db if db is not None else default_db_path(root))


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def create_run(store: Store, plan: Plan) -> str:
    run_id = new_run_id()
    store.create_run(
        run_id=run_id,
        workstream=plan.workstream.name,
        source=str(plan.source) if plan.source else None,
        root=str(plan.root),
        max_parallel=plan.workstream.max_parallel,
        spec=plan.spec,
        steps=[(s.id, s.kind, s.needs, s.spec) for s in plan.steps],
    )
    return run_id


async def execute(
    store: Store,
    run_id: str,
    *,
    bus: EventBus | None = None,
    operator_resume: bool = False,
    reopen: list[str] | None = None,
    revise: str | None = None,
    on_executor: Callable[[RunExecutor], None] | None = None,
    seed: int | None = None,
    dedicated: bool = False,
) -> RunState:
    """Execute (or resume) one run in this process until it ends, pauses or is canceled.

    ``dedicated`` says the process exists for this run (the ``uet run`` command, a detached
    engine), so the executor may tune process-wide things such as the garbage collector; a
    process hosting runs beside other work (the dashboard) leaves it False."""
    import asyncio

    from engine.control import Controller
    from engine.runner import RunExecutor
    from engine.workers import Worker
    from store.feed import ChangeFeed

    bus = bus or EventBus()
    recorder = Recorder(store, bus)
    worker = Worker(recorder)
    worker.move(WorkerState.IDLE)
    stop = asyncio.Event()
    executor = RunExecutor(store, run_id, worker, recorder, seed=seed, dedicated=dedicated)
    # The engine's own commits touch the database every few milliseconds, so a file watcher
    # would wake it for nothing all the time; its two threads were measured to cost about a
    # tenth of the throughput of short subprocess steps. Commands only need noticing within a
    # second, so the engine reads the feed in its polling form, every 100 ms (one stat call).
    controller = Controller(store, worker.id, ChangeFeed(store.path, force_polling=True, poll_interval=0.1))
    controller.register(run_id, executor.handle_command)
    if on_executor is not None:
        on_executor(executor)
    background = [
        asyncio.create_task(worker.heartbeat(stop), name="uet-heartbeat"),
        asyncio.create_task(controller.serve(stop), name="uet-control"),
    ]
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()
    if dedicated:
        # An exception in a loop callback would only be printed ("Exception in callback", a
        # traceback) while the run went on as if nothing happened; here it ends the run, and
        # the one line the command prints says why (--debug shows the traceback).
        def ends_the_run(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            if isinstance(exc, Exception) and executor.fail(exc):
                return
            if handler is not None:
                handler(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(ends_the_run)
    try:
        if reopen:
            executor.reopen_on_start = list(reopen)
        executor.revise_on_start = revise
        return await executor.execute(operator_resume=operator_resume)
    finally:
        if dedicated:
            loop.set_exception_handler(handler)
        stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if store.writer.failed is None:  # else the store takes nothing more, and the cause is on its way up
            worker.stop()
            store.sync()


@contextlib.contextmanager
def claimed(store: Store, run_id: str) -> Iterator[Worker]:
    """Own a run briefly to change it in the store while no engine executes it."""
    from engine.workers import Worker, is_lost

    recorder = Recorder(store, EventBus())
    worker = Worker(recorder)
    store.claim_run(run_id, worker.id, is_lost)
    try:
        yield worker
    finally:
        store.release_run(run_id, worker.id)
        worker.stop()
        store.sync()


def cancel_offline(store: Store, run_id: str, reason: str) -> RunState:
    """Cancel a run that no live engine executes: whatever its dead engine left running is
    ended (found by the marker in each child's environment and by the recorded process groups,
    all signaled at once: within about a second), then unfinished steps and attempts become
    canceled, and so does the run."""
    from engine.reaper import end_run

    with claimed(store, run_id):
        run = queries.get_run(run_id)
        if run.state in RUN_TERMINAL:
            return run.state
        running = queries.running_attempts(run_id)
        end_run(run_id, [(a.pid, a.started_at) for a in running if a.pid])
        now = time.time()
        recorder = Recorder(store, EventBus())
        for attempt in running:
            recorder.write([ops.finish_attempt(run_id, attempt.step_id, attempt.number, "canceled", now, None,
                                               reason, None, None, None, None)])
        for step in queries.steps(run_id):
            state = StepState(step.state)
            if state not in STEP_TERMINAL:
                target = transition("step", state, StepState.CANCELED, step.id)
                recorder.write([ops.step_finished(run_id, step.id, target.value, None, now, reason)],
                               [Event(now, "step.state", run_id, step.id, {"from": state.value, "to": "canceled",
                                                                          "reason": reason})])
        transition("run", run.state, RunState.CANCELED, run_id)
        # The counts come from the steps just ended, in the same unit as the run's end, so no
        # face shows the counts of before the cancel beside a canceled run.
        recorder.write([ops.run_state(run_id, "canceled", ended_at=now, reason=reason), ops.recount_run(run_id)],
                       [Event(now, "run.state", run_id, None, {"from": run.state.value, "to": "canceled",
                                                               "reason": reason})])
    return RunState.CANCELED


def raise_budget(store: Store, run_id: str, updates: dict[str, object], by: str) -> dict[str, object]:
    """Raise (or set) a run's budget before it goes on; the change is an event with who."""
    from schemas.workstream import Budget

    with claimed(store, run_id):
        spec = queries.run_spec(run_id)
        merged = Budget.model_validate({**spec.get("budget", {}), **updates}).model_dump(mode="json", exclude_none=True)
        spec["budget"] = merged
        now = time.time()
        Recorder(store, EventBus()).write(
            [ops.run_spec(run_id, spec)],
            [Event(now, "budget.raised", run_id, None, {"budget": merged, "by": by})],
        )
    return merged

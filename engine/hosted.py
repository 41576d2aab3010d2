"""Runs executed inside a long-lived process such as the dashboard, on its event loop.

A host starts runs (in-process, or detached into their own background engine), and when it
is about to end it either cancels its runs or hands them over: each is paused (no new steps
start, running ones finish, nothing is lost) and a background engine resumes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.events import EventBus
from engine.planner import plan_file
from engine.runner import RunExecutor
from engine.session import create_run, execute
from engine.steering import spawn_engine
from schemas.states import RunState
from store import Store

HANDOVER = "handed over to a background engine"


@dataclass
class Hosted:
    run_id: str
    task: asyncio.Task[RunState]
    executor: RunExecutor | None = None


class Host:
    def __init__(self, store: Store, root: Path, bus: EventBus | None = None) -> None:
        self.store = store
        self.root = root
        self.bus = bus or EventBus()
        self.runs: dict[str, Hosted] = {}

    def create(self, file: Path) -> str:
        """Validate ``file`` (raising ValidationFailed before anything is written) and record
        a new run of it."""
        return create_run(self.store, plan_file(file, self.root))

    def start(self, run_id: str, on_end: Callable[[str, RunState | BaseException], None] | None = None) -> Hosted:
        hosted = Hosted(run_id, asyncio.get_running_loop().create_task(self._execute(run_id), name=f"uet-run-{run_id}"))

        def done(task: asyncio.Task[RunState]) -> None:
            self.runs.pop(run_id, None)
            if on_end is not None and not task.cancelled():
                on_end(run_id, task.exception() or task.result())

        hosted.task.add_done_callback(done)
        self.runs[run_id] = hosted
        return hosted

    async def _execute(self, run_id: str) -> RunState:
        def attach(executor: RunExecutor) -> None:
            if run_id in self.runs:
                self.runs[run_id].executor = executor

        return await execute(self.store, run_id, bus=self.bus, on_executor=attach)

    def detach(self, run_id: str) -> int:
        """Start ``run_id`` in its own background engine; return its pid."""
        return spawn_engine(self.store, self.root, run_id).pid

    @property
    def active(self) -> list[str]:
        return [run_id for run_id, hosted in self.runs.items() if not hosted.task.done()]

    def running_steps(self) -> int:
        return sum(len(h.executor.running) for h in self.runs.values() if h.executor is not None)

    async def cancel_all(self, reason: str) -> None:
        for hosted in list(self.runs.values()):
            if hosted.executor is not None:
                hosted.executor.request_cancel(reason)
        await self._wait([h.task for h in self.runs.values()])

    async def hand_over(self) -> list[tuple[str, int]]:
        """Pause every hosted run, wait for their running steps, then resume each in a
        background engine. Returns (run id, pid) pairs."""
        ids = self.active
        tasks = [self.runs[run_id].task for run_id in ids]
        for run_id in ids:
            hosted = self.runs[run_id]
            if hosted.executor is not None:
                hosted.executor.request_pause(HANDOVER)
        states = await self._wait(tasks)
        out = []
        for run_id, state in zip(ids, states, strict=True):
            if state is RunState.PAUSED:
                out.append((run_id, await asyncio.to_thread(self.detach, run_id)))
        return out

    @staticmethod
    async def _wait(tasks: list[asyncio.Task[RunState]]) -> list[RunState | None]:
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [r if isinstance(r, RunState) else None for r in results]

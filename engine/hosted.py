"""Runs executed inside a long-lived process such as the dashboard, on its event loop.

A host starts runs (in-process, or detached into their own background engine), and when it
is about to end it either cancels its runs or hands them over: each is paused (no new steps
start, running ones finish, nothing is lost) and a background engine resumes it.

A workstream runs in its own project (``engine.projects``). A host holds one project's store
(a process works with one store at a time), so a workstream of another project is started
the way ``uet run --detach`` starts it there, in that project's store and a background engine.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError, UetError
from engine.events import EventBus
from engine.planner import plan_file
from engine.projects import Project, workstream_project
from engine.runner import RunExecutor
from engine.session import create_run, execute
from engine.steering import spawn_engine
from schemas.states import RunState
from store import Store

HANDOVER = "handed over to a background engine"


#: How long starting a run in another project may take (validation, the store, the engine's claim).
ELSEWHERE_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a workstream file runs: its project, and whether that project's runs are recorded
    in the host's own store (then the host can execute it and its face shows it)."""

    project: Project
    here: bool


@dataclass(frozen=True, slots=True)
class StartedElsewhere:
    run_id: str
    project: Project
    pid: int


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

    def place(self, file: Path) -> Placement:
        project = workstream_project(file, self.root)
        here = project.root == self.root.resolve() or project.db.resolve() == self.store.path.resolve()
        return Placement(Project(project.root, self.store.path) if here else project, here)

    def create(self, file: Path) -> str:
        """Validate ``file`` (raising ValidationFailed before anything is written) and record
        a new run of it, rooted in its project, which must be this host's (see ``place``)."""
        placement = self.place(file)
        if not placement.here:
            raise UetError(f"{file} belongs to the project {placement.project.root}, not {self.root}")
        return create_run(self.store, plan_file(file, placement.project.root))

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

    @staticmethod
    def validate_elsewhere(file: Path, project: Project) -> None:
        """Check ``file`` as its project will (raising ValidationFailed); nothing is written."""
        plan_file(file, project.root)

    @staticmethod
    def start_elsewhere(file: Path, project: Project) -> StartedElsewhere:
        """Start ``file`` in its own project: the run is created in that project's store and a
        background engine executes it, as ``uet run --detach`` does. Blocks until the engine
        has taken the run (a few seconds at most): call it off the event loop."""
        argv = [sys.executable, "-m", "tui.cli", "run", "--detach", "--json", "--project", str(project.root),
                "--db", str(project.db), str(file)]
        try:
            done = subprocess.run(argv, cwd=project.root, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=ELSEWHERE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise UetError(f"starting {file.name} in {project.root} took over {ELSEWHERE_TIMEOUT:.0f} s") from exc
        if done.returncode != 0:
            said = done.stderr.strip().splitlines()
            message = said[-1].removeprefix("uet: ") if said else f"exit code {done.returncode}"
            raise (InputError if done.returncode == 2 else UetError)(f"{project.root}: {message}")
        try:
            document = json.loads(done.stdout)
            return StartedElsewhere(str(document["id"]), project, int(document["detached"]["pid"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise UetError(f"starting {file.name} in {project.root}: unexpected answer {done.stdout[:200]!r}") from exc

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

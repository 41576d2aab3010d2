"""What the run parts' unit tests build them from: a step table whose writes are kept in a
list, a recorder that keeps what it is given, and a router over python tools (always installed)."""

from __future__ import annotations

from typing import Any

from engine.events import Event, EventBus
from engine.progress import Progress
from engine.router import Router
from engine.run.table import Row, StepTable
from engine.stats import StatsBook
from schemas.router import RouterConfig
from schemas.states import StepState

RUN = "run-1"
WORKER = "worker-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class KeptRecorder:
    """Stands in for ``engine.events.Recorder``: keeps the statements and events written."""

    def __init__(self) -> None:
        self.bus = EventBus()
        self.owner = WORKER
        self.statements: list[Any] = []
        self.events: list[Event] = []

    def write(self, statements: Any, events: Any = ()) -> None:
        self.statements.extend(statements)
        self.events.extend(events)

    def event(self, event: Event) -> None:
        self.events.append(event)


class Table:
    """A step table with its submitted units and the step moves told to its bus."""

    def __init__(self, steps: dict[str, tuple[StepState, list[str], dict[str, Any]]], router: Router) -> None:
        self.clock = Clock()
        self.units: list[Any] = []
        self.bus = EventBus()
        self.moves: list[Event] = []
        self.bus.subscribe(self.moves.append)
        self.table = StepTable(RUN, WORKER, self.clock, lambda unit, owner: self.units.append((unit, owner)),
                               self.bus)
        for sid, (state, needs, spec) in steps.items():
            attempts = 1 if state is StepState.RUNNING else 0
            self.table.add(sid, state, spec, router.key(spec), needs,
                           Row(None, attempts, 0, None, None, None, None))
        self.table.link()
        for sid in steps:
            self.table.waiting[sid] = self.table.unmet(sid)
        self.table.progress = Progress(RUN, len(steps), 4, self.clock.now)

    def reasons(self, sid: str) -> list[tuple[str, str | None]]:
        return [(e.data["to"], e.data.get("reason")) for e in self.moves if e.step_id == sid]


def python_router(limits: dict[str, int | None]) -> Router:
    tools = {name: {"adapter": "python", "callable": "tests.engine.pycallables:ok", "max_parallel": limit}
             for name, limit in limits.items()}
    return Router(RouterConfig.model_validate({"strategy": "fixed", "tools": tools}), StatsBook(), [])

"""Events: the engine's only voice. Every state change becomes an Event that is written to the
store (in the same unit as the change) and handed to in-process listeners (the live display,
the dashboard when it runs the engine itself). The engine never prints.

Event kinds: ``run.created``, ``run.state``, ``run.recovered``, ``step.state``,
``step.output``, ``step.routed``, ``attempt.crashed``, ``attempt.warning`` (a value a tool
reported was out of range), ``breaker.state``, ``budget.reached``, ``command.created``,
``command.done``, ``worker.started``, ``worker.state``, ``worker.lost``; the store's writer adds
``store.values_dropped`` and ``store.unit_dropped`` when it could not record something as given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from store import Store, ops
from store.writer import RowImage, Statement


class Event(NamedTuple):
    ts: float
    kind: str
    run_id: str | None = None
    step_id: str | None = None
    data: dict[str, Any] = {}  # noqa: RUF012 - never mutated; events are built with their data


Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        #: Whether anyone listens; a plain attribute, read three times per step by the engine.
        self.active = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        self.active = True

        def unsubscribe() -> None:
            self._listeners.remove(listener)
            self.active = bool(self._listeners)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)


class Recorder:
    """Writes state changes with their events as one unit, then tells the listeners."""

    def __init__(self, store: Store, bus: EventBus, owner: str | None = None) -> None:
        self.store = store
        self.bus = bus
        #: The worker these writes are made for (an engine's); the store drops them once another
        #: engine has declared that worker lost.
        self.owner = owner

    def write(self, statements: Sequence[Statement | RowImage], events: Sequence[Event] = ()) -> None:
        unit = [*statements, *(ops.insert_event(e.ts, e.kind, e.run_id, e.step_id, e.data) for e in events)]
        self.store.submit(unit, self.owner)
        if self.bus.active:
            for event in events:
                self.bus.publish(event)

    def event(self, event: Event) -> None:
        self.write((), (event,))

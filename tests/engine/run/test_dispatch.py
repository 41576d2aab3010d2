"""The dispatcher alone, with a start function that only notes what it was asked to start."""

from __future__ import annotations

from typing import Any

from engine.router import Route
from engine.run.dispatch import Dispatcher
from schemas.states import StepState
from tests.engine.run.parts import KeptRecorder, Table, python_router

S = StepState


def _dispatcher(limits: dict[str, int | None], steps: dict[str, str], max_parallel: int) -> tuple[Dispatcher, Table]:
    router = python_router(limits)
    table = Table({sid: (S.PENDING, [], {"kind": "task", "tool": tool}) for sid, tool in steps.items()}, router)
    wakes: list[float] = []
    dispatcher = Dispatcher(table.table, router, KeptRecorder(), max_parallel, wakes.append)  # type: ignore[arg-type]
    for sid in steps:
        dispatcher.make_ready(sid)
    return dispatcher, table


def _starter(dispatcher: Dispatcher) -> tuple[list[str], Any]:
    started: list[str] = []

    def start(sid: str, route: Route) -> None:
        started.append(sid)
        dispatcher.running[sid] = route  # what the limits count; a real start puts its handle here
        dispatcher.router.started(route.tool)

    return started, start


def test_each_tool_starts_up_to_its_limit_and_a_blocked_queue_keeps_its_steps_in_order() -> None:
    dispatcher, table = _dispatcher({"a": 1, "b": None}, {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b"},
                                    max_parallel=3)
    started, start = _starter(dispatcher)

    dispatcher.dispatch(table.clock.now, start)

    assert started == ["a1", "b1", "b2"]
    assert list(dispatcher.queues["tool:a"]) == ["a2", "a3"]  # blocked at a's limit: left as it was
    assert "tool:b" not in dispatcher.queues
    assert table.table.state["a2"] is S.READY

    # The limit frees when a1 ends: the next of a's queue starts, in order.
    del dispatcher.running["a1"]
    dispatcher.router.finished("a")
    dispatcher.dispatch(table.clock.now, start)
    assert started == ["a1", "b1", "b2", "a2"]
    assert list(dispatcher.queues["tool:a"]) == ["a3"]


def test_max_parallel_bounds_every_key_together() -> None:
    dispatcher, table = _dispatcher({"a": None, "b": None}, {"a1": "a", "a2": "a", "a3": "a", "b1": "b"},
                                    max_parallel=2)
    started, start = _starter(dispatcher)

    dispatcher.dispatch(table.clock.now, start)

    assert started == ["a1", "a2"]
    assert list(dispatcher.queues["tool:a"]) == ["a3"]
    assert list(dispatcher.queues["tool:b"]) == ["b1"]
    assert not dispatcher.idle()


def test_a_step_no_tool_can_ever_take_fails_without_starting_anything() -> None:
    router = python_router({"a": None})
    table = Table({"x": (S.PENDING, [], {"kind": "translate"}), "y": (S.PENDING, ["x"], {"kind": "translate"})},
                  router)
    dispatcher = Dispatcher(table.table, router, KeptRecorder(), 2, lambda delay: None)  # type: ignore[arg-type]
    dispatcher.make_ready("x")
    started, start = _starter(dispatcher)

    dispatcher.dispatch(table.clock.now, start)

    assert started == []
    assert table.table.state["x"] is S.FAILED
    assert table.reasons("x")[-1] == ("failed", "no tool can do kind 'translate'")
    assert table.table.rows["x"].attempts == 1  # the attempt that never started a tool is recorded
    assert dispatcher.idle()


def test_a_step_behind_an_open_breaker_is_held_until_its_probe_and_an_ad_hoc_one_never_is() -> None:
    """What the run says it waits on, and what a retry's event says: the breaker and its probe
    time while nothing runs; an ad-hoc command of the same name is held by no breaker."""
    router = python_router({"a": None})
    table = Table({"a1": (S.PENDING, [], {"kind": "task", "tool": "a"}),
                   "cmd": (S.PENDING, [], {"kind": "task", "run": ["a", "x"]})}, router)
    dispatcher = Dispatcher(table.table, router, KeptRecorder(), 2, lambda delay: None)  # type: ignore[arg-type]
    breaker = router.breaker("a")
    while breaker.state.value != "open":
        breaker.record("failed", 10.0, was_probe=False)
    probe = 10.0 + breaker.policy.open_for
    assert dispatcher.held_until("a1", 11.0) == ("a", probe)
    assert dispatcher.held_until("a1", probe) is None, "at its probe time the breaker lets it through"
    assert dispatcher.held_until("cmd", 11.0) is None
    dispatcher.make_ready("a1")
    started, start = _starter(dispatcher)
    dispatcher.dispatch(11.0, start)
    assert started == [] and dispatcher.waiting_on(11.0) == ("a", probe)
    dispatcher.make_ready("cmd")
    dispatcher.dispatch(11.0, start)
    assert started == ["cmd"], "the ad-hoc command is not held by the tool's breaker"
    assert dispatcher.waiting_on(11.0) is None, "something runs: the run is not waiting"

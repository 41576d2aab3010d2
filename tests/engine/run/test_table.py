"""The step table alone: a move is one unit (row image, extra rows, event) under the engine's
worker, and a move the state machine does not allow raises before anything is written."""

from __future__ import annotations

import pytest

from engine.errors import InvalidTransition
from engine.run.table import Row, StepTable
from schemas.execution import ExecutionResult
from schemas.states import StepState
from store.writer import RowImage
from tests.engine.run.parts import RUN, WORKER, Table, python_router

S = StepState


def _table() -> Table:
    return Table({"a": (S.PENDING, [], {"kind": "task", "tool": "t"}),
                  "b": (S.PENDING, ["a"], {"kind": "task", "tool": "t"}),
                  "c": (S.PENDING, ["b"], {"kind": "task", "tool": "t"})}, python_router({"t": None}))


def test_a_move_writes_the_row_and_its_event_as_one_unit_for_the_worker() -> None:
    t = _table()
    t.table.move("a", S.READY, (), {"reason": "why"})

    [(unit, owner)] = t.units
    assert owner == WORKER
    row, event = unit
    assert isinstance(row, RowImage) and row.params[0] == "ready"
    assert event[1][:4] == (t.clock.now, RUN, "a", "step.state")
    assert [(e.data["from"], e.data["to"], e.data["reason"]) for e in t.moves] == [("pending", "ready", "why")]


def test_a_move_the_state_machine_forbids_raises_and_writes_nothing() -> None:
    t = _table()
    with pytest.raises(InvalidTransition):
        t.table.move("a", S.SUCCEEDED)
    assert t.table.state["a"] is S.PENDING and not t.units


def test_a_step_that_fails_skips_every_pending_step_below_it_saying_why() -> None:
    t = _table()
    t.table.move("a", S.READY)
    t.table.move("a", S.RUNNING)
    t.table.finish("a", S.FAILED, 1, "boom", (1, 0.0, ExecutionResult(outcome="failed", exit_code=1), "a.1.log"))
    t.table.skip_descendants("a")

    assert (t.table.state["b"], t.table.state["c"]) == (S.SKIPPED, S.SKIPPED)
    assert t.reasons("c") == [("skipped", "needs b, which skipped")]
    assert t.table.progress is not None and t.table.progress.counts["skipped"] == 2


def test_link_gives_each_step_its_children() -> None:
    table = StepTable(RUN, WORKER, lambda: 0.0, lambda unit, owner: None, Table({}, python_router({})).bus)
    for sid, needs in (("a", []), ("b", ["a"]), ("c", ["a", "b"])):
        table.add(sid, S.PENDING, {}, "k", needs, Row(None, 0, 0, None, None, None, None))
    table.link()
    assert table.children == {"a": ["b", "c"], "b": ["c"], "c": []}

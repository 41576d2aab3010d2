"""Recovery alone, over a real store: the attempts a lost engine left are what it reads; the
step table it settles writes to a list."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.planner import build_plan
from engine.run.recovery import ENGINE_LOST, MAX_ENGINE_LOSSES, Recovery, losses_in_a_row
from engine.session import create_run, open_store
from schemas.states import StepState
from schemas.workstream import Workstream
from store import Store, ops, queries
from tests.engine.run.parts import KeptRecorder, Table, python_router

S = StepState


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    (tmp_path / ".uet").mkdir()
    doc = {"name": "lost", "steps": [{"id": "s", "call": "tests.engine.pycallables:ok"},
                                     {"id": "after", "call": "tests.engine.pycallables:ok", "needs": ["s"]}]}
    store = open_store(tmp_path)
    run_id = create_run(store, build_plan(Workstream.model_validate(doc), None, None, tmp_path))
    yield store, run_id
    store.close()


def _left_behind(store: Store, run_id: str, earlier_losses: int) -> None:
    """Step ``s`` lost its engine ``earlier_losses`` times before, and its attempt after those
    was running when this engine's predecessor died."""
    for number in range(1, earlier_losses + 1):
        store.submit([ops.attempt_row(run_id, "s", number, "python", "crashed", None, 1.0, 2.0, error=ENGINE_LOST)])
    store.submit([ops.attempt_row(run_id, "s", earlier_losses + 1, "python", "running", "dead-worker", 3.0)])
    store.sync()


def _recover(run_id: str, attempts: int) -> tuple[Table, KeptRecorder]:
    router = python_router({})
    table = Table({"s": (S.RUNNING, [], {"kind": "task", "call": "x:y"}),
                   "after": (S.PENDING, ["s"], {"kind": "task", "call": "x:y"})}, router)
    table.table.run_id = run_id
    table.table.rows["s"].attempts = attempts
    rec = KeptRecorder()
    Recovery(table.table, rec, "/nowhere", None, random.Random(1)).recover(  # type: ignore[arg-type]
        False, "dead-worker", False, ())
    return table, rec


def test_a_step_whose_engine_was_lost_runs_again_without_spending_a_retry(stored: tuple[Store, str]) -> None:
    store, run_id = stored
    _left_behind(store, run_id, earlier_losses=1)

    table, rec = _recover(run_id, attempts=2)

    assert table.table.state["s"] is S.RETRYING
    assert table.table.rows["s"].base == 1  # the crash moved the base: the retry policy does not see it
    assert "2 of 3 times in a row" in (table.reasons("s")[-1][1] or "")
    assert [(e.kind, e.data["attempt"], e.data["worker"]) for e in rec.events] == [
        ("attempt.crashed", 2, "dead-worker")]


def test_a_step_that_keeps_losing_its_engine_fails_at_the_bound(stored: tuple[Store, str]) -> None:
    store, run_id = stored
    _left_behind(store, run_id, earlier_losses=MAX_ENGINE_LOSSES - 1)

    table, rec = _recover(run_id, attempts=MAX_ENGINE_LOSSES)

    assert table.table.state["s"] is S.FAILED
    assert table.reasons("s")[-1] == ("failed", f"the engine was lost {MAX_ENGINE_LOSSES} times in a row while "
                                                f"running this step (at most {MAX_ENGINE_LOSSES})")
    assert table.table.state["after"] is S.PENDING  # skipping what needs it is the dispatch's, at prepare
    assert losses_in_a_row(queries.attempts(run_id, "s")) == MAX_ENGINE_LOSSES - 1  # the running one is skipped

"""Scheduler properties over random DAGs, with the real engine and a real store: every step
runs exactly once, never before its needs, never more than max_parallel at a time; a failed
step's dependents never start and everything independent of it still runs."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.planner import build_plan
from engine.session import create_run, execute, open_store
from schemas.states import RunState
from schemas.workstream import Workstream
from store import queries
from tests.engine import recorder


@st.composite
def dags(draw: st.DrawFn) -> tuple[int, dict[int, list[int]], int, set[int]]:
    size = draw(st.integers(1, 24))
    needs = {i: sorted(draw(st.sets(st.integers(0, i - 1), max_size=min(i, 4)))) if i else [] for i in range(size)}
    parallel = draw(st.integers(1, 4))
    failing = draw(st.sets(st.integers(0, size - 1), max_size=2))
    return size, needs, parallel, failing


def run_dag(needs: dict[int, list[int]], parallel: int, failing: set[int]) -> tuple[RunState, dict[str, str]]:
    recorder.reset()
    doc = {
        "name": "prop",
        "max_parallel": parallel,
        "steps": [
            {"id": f"s{i}", "call": "tests.engine.recorder:record",
             "params": {"name": f"s{i}", "fail": i in failing, "yields": 1 + i % 3},
             "needs": [f"s{n}" for n in deps]}
            for i, deps in needs.items()
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".uet").mkdir()
        plan = build_plan(Workstream.model_validate(doc), None, None, root)
        store = open_store(root)
        try:
            run_id = create_run(store, plan)
            state = asyncio.run(execute(store, run_id))
            store.sync()
            states = {s.id: str(s.state) for s in queries.steps(run_id)}
            assert store.integrity_check() == "ok"
        finally:
            store.close()
    return state, states


def descendants(needs: dict[int, list[int]], roots: set[int]) -> set[int]:
    out: set[int] = set()
    changed = True
    while changed:
        changed = False
        for step, deps in needs.items():
            if step not in out and any(d in roots or d in out for d in deps):
                out.add(step)
                changed = True
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_random_dags_respect_order_limits_and_failures(dag: tuple[int, dict[int, list[int]], int, set[int]]) -> None:
    size, needs, parallel, failing = dag
    state, states = run_dag(needs, parallel, failing)
    blocked = descendants(needs, failing)
    starts = [name for kind, name in recorder.LOG if kind == "start"]
    ends = {name: index for index, (kind, name) in enumerate(recorder.LOG) if kind == "end"}
    begun = {name: index for index, (kind, name) in enumerate(recorder.LOG) if kind == "start"}

    expected_runs = {f"s{i}" for i in range(size) if i not in blocked}
    assert sorted(starts) == sorted(expected_runs), "each runnable step runs exactly once"
    for i, deps in needs.items():
        for d in deps:
            if f"s{i}" in begun:
                assert ends[f"s{d}"] < begun[f"s{i}"], f"s{i} started before its need s{d} ended"
    assert recorder.ACTIVE["peak"] <= parallel
    for i in range(size):
        if i in failing and i not in blocked:
            assert states[f"s{i}"] == "failed"
        elif i in blocked:
            assert states[f"s{i}"] == "skipped"
        else:
            assert states[f"s{i}"] == "succeeded"
    assert state is (RunState.FAILED if failing else RunState.SUCCEEDED)


def test_a_wide_dag_uses_all_its_parallel_slots() -> None:
    needs = {i: [] for i in range(12)}
    state, _ = run_dag(needs, 4, set())
    assert state is RunState.SUCCEEDED
    assert recorder.ACTIVE["peak"] == 4



def test_a_dedicated_engine_freezes_what_it_loaded_only_while_it_runs() -> None:
    """``uet run`` executes with dedicated=True: the loaded run is kept out of the collector's
    full passes during the run, and handed back to it afterwards, also when a step fails."""
    import gc

    recorder.FROZEN.clear()
    doc = {"name": "frozen", "steps": [
        {"id": "a", "call": "tests.engine.recorder:note_frozen"},
        {"id": "b", "call": "tests.engine.recorder:note_frozen", "params": {"fail": True}, "needs": ["a"]},
    ]}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".uet").mkdir()
        store = open_store(root)
        try:
            run_id = create_run(store, build_plan(Workstream.model_validate(doc), None, None, root))
            state = asyncio.run(execute(store, run_id, dedicated=True))
        finally:
            store.close()
    assert state is RunState.FAILED
    assert len(recorder.FROZEN) == 2 and all(count > 0 for count in recorder.FROZEN)
    assert gc.get_freeze_count() == 0

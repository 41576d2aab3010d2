"""A resume that claims a run another engine ended meanwhile (two `uet resume` at once: both
looked while the run was unfinished, one finished it before the other claimed it) ends quietly
with the run's state instead of trying to move an ended run back to running."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.planner import build_plan
from engine.session import create_run, execute, open_store
from schemas.states import RunState
from schemas.workstream import Workstream
from store import queries
from tests.engine import recorder


@pytest.mark.parametrize("fail", [False, True])
def test_a_resume_that_finds_the_run_already_ended_changes_nothing(tmp_path: Path, fail: bool) -> None:
    recorder.reset()
    doc = {"name": "late", "steps": [{"id": "a", "call": "tests.engine.recorder:record",
                                      "params": {"name": "a", "fail": fail}}]}
    (tmp_path / ".uet").mkdir()
    store = open_store(tmp_path)
    try:
        run_id = create_run(store, build_plan(Workstream.model_validate(doc), None, None, tmp_path))
        ended = asyncio.run(execute(store, run_id))
        assert ended is (RunState.FAILED if fail else RunState.SUCCEEDED)
        store.sync()
        before = queries.max_event_seq()
        # The late resume: it looked before the run ended, so it is not an operator's reopen.
        assert asyncio.run(execute(store, run_id)) is ended
        store.sync()
        assert queries.get_run(run_id).state is ended
        assert [s.attempts for s in queries.steps(run_id)] == [1]
        moves = [e.kind for e in queries.events_after(before, run_id=run_id) if e.kind in ("run.state", "step.state")]
        assert moves == []
    finally:
        store.close()

"""``uet logs RUN`` writes a run's events as it reads them, a batch at a time: every event once,
in order, across batch boundaries, in words and as JSON lines, on a real store."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from store import Store, ops
from tui.cli import main
from tui.cli.read import _EVENT_BATCH

EVENTS = 2 * _EVENT_BATCH + 7  # two whole batches and a part of one


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "uet.db"
    with Store(path) as store:
        store.create_run(run_id="r1", workstream="many", source=None, root="/p", max_parallel=1, spec={},
                         steps=[("a", "command", [], {})])
        store.create_run(run_id="r2", workstream="other", source=None, root="/p", max_parallel=1, spec={}, steps=[])
        conn = store.db.connection()
        conn.execute("BEGIN")
        for n in range(EVENTS):
            conn.execute(*ops.insert_event(1_700_000_000.0 + n, "step.state", "r1", "a",
                                           {"from": "ready", "to": "running", "attempt": n, "tool": "sh"}))
            if n % 500 == 0:  # another run's events between them are left out
                conn.execute(*ops.insert_event(1_700_000_000.0 + n, "run.state", "r2", None, {"to": "running"}))
        conn.execute("COMMIT")
    return path


def logs(db: Path, *argv: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["logs", "--db", str(db), *argv]) == 0
    return out.getvalue().splitlines()


def test_every_event_of_the_run_is_written_once_in_order(db: Path) -> None:
    created, *lines = logs(db, "r1")
    assert created.endswith("run created: many with 1 steps")
    assert len(lines) == EVENTS
    assert [int(line.split("attempt ")[1].split(",")[0]) for line in lines] == list(range(EVENTS))
    assert lines[0].endswith("step a ready → running (attempt 0, tool sh)")


def test_json_lines_carry_the_events_whole(db: Path) -> None:
    created, *events = [json.loads(line) for line in logs(db, "r1", "--json")]
    assert created["kind"] == "run.created"
    assert len(events) == EVENTS
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == EVENTS and created["seq"] < seqs[0]
    assert {e["run_id"] for e in events} == {"r1"}
    assert events[-1] == {"seq": seqs[-1], "ts": 1_700_000_000.0 + EVENTS - 1, "run_id": "r1", "step_id": "a",
                          "kind": "step.state",
                          "data": {"from": "ready", "to": "running", "attempt": EVENTS - 1, "tool": "sh"}}

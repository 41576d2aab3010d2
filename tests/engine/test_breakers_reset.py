"""``uet breakers`` and ``uet breakers reset TOOL``: the breaker closed by hand is recorded with
who, an unknown tool is refused with nothing written, and a live engine whose run waits on the
breaker starts the held step at once instead of at the probe time."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from typing import Any

import pytest

from engine.events import Event, EventBus, Recorder
from store import Store, ops
from tests.conftest import Project, wait_for
from tests.engine.breaker_projects import held_by_breaker
from tui.cli import main


def _open_breaker(project: Project, tool: str) -> None:
    store = Store(project.db)
    try:
        Recorder(store, EventBus()).write(
            [ops.upsert_breaker(tool, "open", 3, [True, True, True], 100.0, None, 100.0)],
            [Event(100.0, "breaker.state", None, None, {"tool": tool, "from": "closed", "to": "open", "reason": "3"})])
        store.sync()
    finally:
        store.close()


def _rows(project: Project, sql: str, *params: Any) -> list[tuple]:
    with closing(sqlite3.connect(project.db)) as conn:
        return conn.execute(sql, params).fetchall()


def _uet(project: Project, *args: str) -> int:
    return main([*args, "--db", str(project.db), "--project", str(project.root)])


def test_reset_closes_the_breaker_and_records_who(project: Project, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "alice")
    _open_breaker(project, "sim")
    assert _uet(project, "breakers", "--json") == 0
    [line] = json.loads(capsys.readouterr().out)
    assert (line["tool"], line["state"], line["failures"], line["waiting"]) == ("sim", "open", 3, [])

    assert _uet(project, "breakers", "reset", "sim") == 0
    assert "breaker sim closed (was open)" in capsys.readouterr().out
    assert _rows(project, "SELECT state, consecutive_failures, window, opened_at FROM breakers") == [
        ("closed", 0, "[]", None)]
    [(data,)] = _rows(project, "SELECT data FROM events WHERE kind = 'breaker.state' ORDER BY seq DESC LIMIT 1")
    event = json.loads(data)
    assert (event["from"], event["to"], event["by"]) == ("open", "closed", "alice")
    assert event["reason"] == "reset by alice"


def test_reset_of_an_unknown_tool_is_refused_with_exit_2_and_nothing_written(
        project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    _open_breaker(project, "sim")
    before = _rows(project, "SELECT COUNT(*) FROM events")
    assert _uet(project, "breakers", "reset", "nosuchtool") == 2
    err = capsys.readouterr().err
    assert "no tool 'nosuchtool'" in err and "sim" in err, err
    assert _rows(project, "SELECT COUNT(*) FROM events") == before
    assert _rows(project, "SELECT state FROM breakers") == [("open",)]


@pytest.mark.slow
def test_a_live_engine_starts_the_held_step_once_its_breaker_is_reset(project: Project,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The first step's failure opens the breaker for ten minutes; the second, of the same
    tool, waits. Reset, it runs now: the engine took the reset, not the probe time."""
    held_by_breaker(project, "10m")
    engine, run_id = project.start(project.root / "ws.yaml")
    try:
        wait_for(lambda: _rows(project, "SELECT waiting_on FROM runs WHERE id = ?", run_id) == [("flaky",)],
                 what="the run to wait on the breaker")
        assert _uet(project, "breakers") == 0  # in this process: the engine is the only other one
        listed = capsys.readouterr().out
        assert "flaky" in listed and "○ open" in listed and run_id in listed, listed
        assert _uet(project, "breakers", "reset", "flaky") == 0
        reset = capsys.readouterr().out
        assert "1 running engine(s) told" in reset, reset
        engine.wait(timeout=60)  # without the reset the second step would wait ten minutes
    finally:
        if engine.poll() is None:
            engine.kill()
        engine.communicate()
    states = dict(_rows(project, "SELECT id, state FROM steps WHERE run_id = ?", run_id))
    assert states == {"first": "failed", "second": "succeeded"}
    [(result,)] = _rows(project, "SELECT result FROM commands WHERE kind = 'reset_breaker'")
    assert result == "breaker flaky closed"

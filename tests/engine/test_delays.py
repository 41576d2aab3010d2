"""Delays and time gates on steps (``delay: 10m``, ``not_before: "02:00"``): a step whose needs
are met waits (state ``waiting``) until its due time, which is kept in the store; a restart
keeps it, a cancel or a pause reaches the waiting step, and every face shows it with its time.

The next occurrence of a time of day is checked with a fixed clock (a daylight-saving day in
a zone included); runs use waits of a fraction of a second and assert the order of what
happened and the recorded due times, never how long anything took.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from engine.events import EventBus
from engine.planner import build_plan
from engine.progress import Tally
from engine.run.dispatch import DUE_PREFIX, due_time
from engine.runner import RunExecutor
from engine.session import create_run, execute, open_store
from schemas.states import RunState
from schemas.times import next_occurrence, parse_not_before
from schemas.workstream import Step, Workstream
from store import Store, queries
from tests.conftest import Project, wait_for
from tui import format as words
from tui.cli.output import status_document

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def at(text: str, zone: ZoneInfo = UTC) -> float:
    """Epoch seconds of an ISO wall-clock time in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- the next occurrence of a time ---------------------------------------------------------------


def test_a_time_of_day_is_its_next_occurrence_at_or_after_the_moment_the_needs_were_met() -> None:
    gate = parse_not_before("02:00")
    # Read in the machine's local time, here Paris (a winter day: UTC+1).
    assert utc(next_occurrence(gate, at("2026-12-02 20:15", PARIS), PARIS)) == "2026-12-03 01:00:00"
    assert utc(next_occurrence(gate, at("2026-12-03 01:59:59", PARIS), PARIS)) == "2026-12-03 01:00:00"
    assert next_occurrence(gate, at("2026-12-03 02:00", PARIS), PARIS) == at("2026-12-03 02:00", PARIS), \
        "a step ready at the very time need not wait a day"
    assert utc(next_occurrence(gate, at("2026-12-03 02:00:01", PARIS), PARIS)) == "2026-12-04 01:00:00"
    # A zone named in the value wins over the machine's.
    tokyo = parse_not_before("02:00:30 Asia/Tokyo")
    assert utc(next_occurrence(tokyo, at("2026-12-02 20:15", PARIS), PARIS)) == "2026-12-03 17:00:30"
    # An ISO datetime is one instant, which may have passed: then the step need not wait.
    instant = parse_not_before("2026-12-24T18:00+01:00")
    assert utc(next_occurrence(instant, at("2026-12-02 20:15"), PARIS)) == "2026-12-24 17:00:00"
    assert next_occurrence(instant, at("2027-01-01 00:00"), PARIS) < at("2027-01-01 00:00")
    assert utc(next_occurrence(parse_not_before("2026-12-24 18:00 Europe/Paris"), 0.0)) == "2026-12-24 17:00:00"


def test_a_time_of_day_on_daylight_saving_days_in_a_zone() -> None:
    # 29 March 2026, Paris: clocks go from 02:00 CET straight to 03:00 CEST.
    spring = parse_not_before("02:30 Europe/Paris")
    due = next_occurrence(spring, at("2026-03-29 00:10", PARIS))
    assert utc(due) == "2026-03-29 01:30:00", "02:30, which does not exist that night, is read as 03:30 CEST"
    assert utc(next_occurrence(spring, at("2026-03-30 00:10", PARIS))) == "2026-03-30 00:30:00"
    # The day before and the day after the change, 02:00 is an hour apart in UTC.
    two = parse_not_before("02:00 Europe/Paris")
    assert utc(next_occurrence(two, at("2026-03-28 12:00", PARIS))) == "2026-03-29 01:00:00"
    assert utc(next_occurrence(two, at("2026-03-29 12:00", PARIS))) == "2026-03-30 00:00:00"
    # 25 October 2026: 02:30 happens twice (CEST, then CET); the first is the one.
    autumn = parse_not_before("02:30 Europe/Paris")
    assert utc(next_occurrence(autumn, at("2026-10-25 00:00", PARIS))) == "2026-10-25 00:30:00"
    # Once past the first, the second one of the same night is not taken: the next day's is.
    assert utc(next_occurrence(autumn, at("2026-10-25 00:31", UTC))) == "2026-10-26 01:30:00"


def test_a_delay_and_a_time_gate_together_wait_for_the_later() -> None:
    now = at("2026-12-02 20:15")
    assert due_time({"delay": "10m"}, now) == now + 600
    assert due_time({"not_before": "20:20 UTC"}, now) == now + 300
    assert due_time({"delay": "10m", "not_before": "20:20 UTC"}, now) == now + 600
    assert due_time({"delay": "1m", "not_before": "20:20 UTC"}, now) == now + 300
    assert due_time({"not_before": "2026-01-01T00:00Z"}, now) == now, "a time gone by holds nothing"


@pytest.mark.parametrize(("field", "value", "words"), [
    ("delay", "0s", "longer than 0s"),
    ("delay", "-5m", "cannot be negative"),
    ("delay", "8d", "7-day limit"),
    ("not_before", "24:00", "no time of day"),
    ("not_before", "2am", "is not a time"),
    ("not_before", "2026-12-24", "a date without a time"),
    ("not_before", "02:00 Mars/Olympus_Mons", "unknown time zone"),
    ("not_before", "02:00 ../../etc/passwd", "not a time zone name"),
    ("not_before", "2026-12-24T18:00+01:00 Europe/Paris", "both an offset and a time zone"),
])
def test_a_bad_delay_or_time_is_refused_naming_the_field(field: str, value: object, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Step.model_validate({"id": "a", "run": ["true"], field: value})
    error = caught.value.errors()[0]
    assert error["loc"][0] == field and words in error["msg"], error


# -- runs -----------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    (tmp_path / ".uet").mkdir()
    opened = open_store(tmp_path)
    try:
        yield opened
    finally:
        opened.close()


def new_run(store: Store, root: Path, steps: list[dict[str, Any]]) -> str:
    doc = {"name": "delays", "steps": steps}
    return create_run(store, build_plan(Workstream.model_validate(doc), None, None, root))


def mark(name: str) -> list[str]:
    return ["python3", "-c", f"open({name!r}, 'w').close()"]


def events(run_id: str, *kinds: str) -> list[tuple[str | None, str, dict[str, Any]]]:
    return [(e.step_id, e.kind, e.data) for e in queries.events_after(0, run_id=run_id) if e.kind in kinds]


def moves(run_id: str, step_id: str) -> list[str]:
    return [data["to"] for sid, _kind, data in events(run_id, "step.state") if sid == step_id]


def test_a_delayed_step_waits_after_its_needs_then_runs(store: Store, tmp_path: Path) -> None:
    run_id = new_run(store, tmp_path, [
        {"id": "a", "run": mark("a")},
        {"id": "b", "needs": ["a"], "delay": "200ms", "run": mark("b")},
        {"id": "c", "needs": ["a"], "run": mark("c")},
    ])
    seen: list[tuple[str, Any]] = []
    bus = EventBus()
    bus.subscribe(lambda e: seen.append((e.kind, e.data.get("to"))) if e.step_id == "b" else None)
    assert asyncio.run(execute(store, run_id, bus=bus)) is RunState.SUCCEEDED
    store.sync()
    assert moves(run_id, "b") == ["waiting", "ready", "running", "succeeded"]
    [(_sid, _kind, waiting)] = events(run_id, "step.waiting")
    a, b = queries.get_step(run_id, "a"), queries.get_step(run_id, "b")
    assert a.ended_at is not None and b.started_at is not None and b.due_at is not None
    assert waiting == {"due_at": b.due_at, "delay": "200ms", "not_before": None}
    assert a.ended_at + 0.2 <= b.due_at + 0.001, "the delay counts from the end of its needs"
    assert b.started_at >= b.due_at, "the step started before its due time"
    assert ("step.waiting", None) in seen, "the live faces hear of the wait"
    run = queries.get_run(run_id)
    assert Tally.of_run(run).as_dict()["succeeded"] == 3 and run.waiting_on is None


def test_cancel_ends_a_waiting_step_at_once(store: Store, tmp_path: Path) -> None:
    run_id = new_run(store, tmp_path, [{"id": "a", "run": mark("a")},
                                       {"id": "later", "needs": ["a"], "delay": "1h", "run": mark("later")}])

    async def scenario() -> RunState:
        executor: list[RunExecutor] = []
        bus = EventBus()

        def on_event(event: Any) -> None:
            if event.kind == "step.waiting":
                # The run's only work left is the waiting step: its activity says so.
                seen.append((executor[0].dispatcher.waiting_on(time.time()), event.data["due_at"],
                             executor[0].progress_snapshot()))
                executor[0].request_cancel("canceled by ana")

        bus.subscribe(on_event)
        return await asyncio.wait_for(execute(store, run_id, bus=bus, on_executor=executor.append), 60)

    seen: list[Any] = []
    assert asyncio.run(scenario()) is RunState.CANCELED
    [(held, due, snapshot)] = seen
    assert held == (DUE_PREFIX + "later", due)
    assert Tally.of_snapshot(snapshot).remaining == 1, "a waiting step is work left"
    store.sync()
    later = queries.get_step(run_id, "later")
    assert (later.state, later.attempts, later.reason) == ("canceled", 0, "canceled by ana")
    assert moves(run_id, "later") == ["waiting", "canceled"]
    assert not (tmp_path / "later").exists()
    run = queries.get_run(run_id)
    assert (run.done_steps, run.canceled_steps, run.waiting_on) == (2, 1, None)


def test_pause_holds_a_waiting_step_with_its_due_time_and_resume_starts_it_once_due(
        store: Store, tmp_path: Path) -> None:
    run_id = new_run(store, tmp_path, [{"id": "a", "run": mark("a")},
                                       {"id": "b", "needs": ["a"], "delay": "300ms", "run": mark("b")}])

    async def pause_on_wait() -> RunState:
        executor: list[RunExecutor] = []
        bus = EventBus()
        bus.subscribe(lambda e: executor[0].request_pause("paused by ana") if e.kind == "step.waiting" else None)
        return await asyncio.wait_for(execute(store, run_id, bus=bus, on_executor=executor.append), 60)

    assert asyncio.run(pause_on_wait()) is RunState.PAUSED
    store.sync()
    paused = queries.get_step(run_id, "b")
    assert paused.state == "waiting" and paused.due_at is not None and not (tmp_path / "b").exists()
    doc = status_document(run_id)
    assert doc["steps"][1]["due_at"] == paused.due_at and doc["progress"]["remaining"] == 1
    # Resumed once the due time has passed, the step starts at once, on the time it had.
    time.sleep(max(0.0, paused.due_at - time.time()) + 0.05)
    assert asyncio.run(asyncio.wait_for(execute(store, run_id, operator_resume=True), 60)) is RunState.SUCCEEDED
    store.sync()
    b = queries.get_step(run_id, "b")
    assert b.due_at == paused.due_at and b.started_at is not None and b.started_at >= paused.due_at
    assert moves(run_id, "b") == ["waiting", "ready", "running", "succeeded"]
    assert len(events(run_id, "step.waiting")) == 1, "the wait was not started over"


@pytest.mark.slow
def test_an_engine_killed_while_a_step_waits_leaves_the_due_time_to_the_next(project: Project) -> None:
    """kill -9 of the engine while its step waits; ``uet resume`` keeps the recorded due time."""
    workstream = project.write("ws.yaml", """
        name: nightly
        steps:
          - id: a
            run: [python3, -c, "open('a', 'w').close()"]
          - id: b
            needs: [a]
            delay: 2s
            run: [python3, -c, "open('b', 'w').close()"]
    """)
    engine, run_id = project.start(workstream)

    def waiting() -> float | None:
        with sqlite3.connect(project.db) as conn:
            row = conn.execute("SELECT due_at FROM steps WHERE run_id = ? AND id = 'b' AND state = 'waiting'",
                               (run_id,)).fetchone()
        return row[0] if row else None

    due = wait_for(waiting, what="step b to wait")
    engine.send_signal(signal.SIGKILL)
    engine.communicate(timeout=10)
    assert not (project.root / "b").exists()
    resumed = project.uet("resume", "--plain", run_id, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    with sqlite3.connect(project.db) as conn:
        state, due_after, started = conn.execute(
            "SELECT state, due_at, started_at FROM steps WHERE run_id = ? AND id = 'b'", (run_id,)).fetchone()
        waits = conn.execute("SELECT count(*) FROM events WHERE run_id = ? AND kind = 'step.waiting'",
                             (run_id,)).fetchone()[0]
    assert (state, due_after, waits) == ("succeeded", due, 1), "the restart began the delay again"
    assert started >= due
    assert project.read("b") == "" and (project.root / "b").exists()


# -- the faces ----------------------------------------------------------------------------------


def test_waiting_reads_with_its_glyph_word_and_due_time() -> None:
    assert words.DUE_PREFIX == DUE_PREFIX
    assert words.label("waiting") == "⧖ waiting"
    now = 1_780_000_000.0
    assert words.waiting(DUE_PREFIX + "nightly", now + 4 * 3600 + 12 * 60, now).words.startswith(
        "waiting until ") and words.waiting(DUE_PREFIX + "nightly", now + 15132, now).words.endswith(
        "(in 4h12m) for step nightly")
    assert words.waiting(DUE_PREFIX + "b", now, now).line.startswith("⧖ waiting until ")
    assert words.waiting("sim", now + 12, now).line == "○ waiting on breaker sim (probe in 12.0s)"
    assert words.describe("step.waiting", "b", {"due_at": now, "delay": "10m", "not_before": None}) == (
        f"step b waits until {words.clock(now)} (delay 10m)")


def test_the_run_screen_shows_a_waiting_step_with_its_due_time_at_80x24(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's fixed store, whose run has only a waiting step left to start (the engine's
    row says so): the run screen's step table reads ``⧖ in 9m00s`` and its header the due time."""
    from tests.tui import stores
    from tests.tui.test_dashboard import drive, settle
    from tui.app import make_app
    from tui.screens.run import RunScreen
    from tui.widgets.line_table import LineTable

    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("UET_CONFIG", "/dev/null")
    time.tzset()
    try:
        (tmp_path / ".uet").mkdir()
        db = stores.small(tmp_path / ".uet" / "uet.db")
        due = stores.NOW + 540
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE steps SET state = 'waiting', due_at = ? WHERE run_id = ? AND id = 'review'",
                         (due, stores.LIVE_RUN))
            conn.execute("UPDATE runs SET waiting_on = ?, waiting_until = ? WHERE id = ?",
                         (DUE_PREFIX + "review", due, stores.LIVE_RUN))
        app = make_app(tmp_path, db, clock=lambda: stores.NOW, live=False)

        async def scenario(pilot: Any) -> None:
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None
                         and app.screen.query_one("#steps", LineTable).row("review") is not None)
            row = app.screen.query_one("#steps", LineTable).row("review")
            assert str(row[0]) == "⧖ in 9m00s", row  # the state cell says when it may start
            header = str(app.screen.query_one("#summary").render())
            assert "⧖ waiting" in header and "waiting until 20:35:40 (in 9m00s) for step review" in header, header

        drive(app, scenario, size=(80, 24))
    finally:
        monkeypatch.undo()
        time.tzset()


def test_uet_status_shows_a_waiting_step_with_its_due_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import re

    from tests.tui import stores
    from tui.cli import main

    (tmp_path / ".uet").mkdir()
    db = stores.small(tmp_path / ".uet" / "uet.db")
    due = time.time() + 540
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE steps SET state = 'waiting', due_at = ? WHERE run_id = ? AND id = 'review'",
                     (due, stores.LIVE_RUN))
    where = ["--db", str(db), "--project", str(tmp_path)]
    assert main(["status", stores.LIVE_RUN, *where]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("review ")]
    assert re.search(r"⧖ waiting +0 +- +- +- +until \d\d:\d\d:\d\d \(in [89]m\d\ds\)$", line), line
    assert main(["status", stores.LIVE_RUN, "review", *where]) == 0
    assert re.search(r"^  waits until \d\d:\d\d:\d\d \(in [89]m\d\ds\)$", capsys.readouterr().out, re.M)
    assert main(["status", stores.LIVE_RUN, "--json", *where]) == 0
    steps = {step["id"]: step for step in json.loads(capsys.readouterr().out)["steps"]}
    assert steps["review"]["due_at"] == due and steps["report"]["due_at"] is None


def test_a_wall_clock_set_back_during_a_wait_still_starts_the_step_when_due(store: Store, tmp_path: Path) -> None:
    """The loop's timer rings when the delay has passed on its own clock; the wall clock, set
    back meanwhile, says the step is not due yet: a later look starts it once the wall says so."""
    run_id = new_run(store, tmp_path, [{"id": "a", "run": mark("a")},
                                       {"id": "b", "needs": ["a"], "delay": "200ms", "run": mark("b")}])
    back = [0.0]

    def wall() -> float:
        return time.time() - back[0]

    def skew(executor: RunExecutor) -> None:
        executor.clock = executor.table.clock = wall

    def set_back(event: Any) -> None:
        if event.kind == "step.waiting":  # once the engine asked to be woken at the due time
            asyncio.get_running_loop().call_later(0.1, back.__setitem__, 0, 1.0)

    bus = EventBus()
    bus.subscribe(set_back)
    ended = asyncio.run(asyncio.wait_for(execute(store, run_id, bus=bus, on_executor=skew), 30))
    assert ended is RunState.SUCCEEDED
    store.sync()
    b = queries.get_step(run_id, "b")
    assert b.due_at is not None and b.started_at is not None and b.started_at >= b.due_at

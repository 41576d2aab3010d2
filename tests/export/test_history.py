"""History at a glance: the query functions over a filled store (store.history), and the
dashboard's history screen by keyboard (Pilot) and at 80×24 (snapshot)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import statistics
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from store.history import load, window
from tests.export.conftest import RUNS
from tests.export.fill import DAY, START, TOOLS
from tui.app import make_app
from tui.screens.dashboard import DashboardScreen
from tui.screens.history import HistoryScreen, spark

NOW = START + 3.5 * DAY  # the fourth day of the filled history, 2025-12-04 12:00 UTC


@pytest.fixture(autouse=True)
def fixed_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("UET_CONFIG", os.devnull)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def app_db(history_db: Path, tmp_path: Path) -> Path:
    """A copy: the app opens its store for writing."""
    (tmp_path / ".uet").mkdir()
    return Path(shutil.copy(history_db, tmp_path / ".uet" / "uet.db"))


def test_history_per_tool_matches_the_attempts(history_db: Path) -> None:
    history = load(history_db, NOW, days=5)
    assert [d.isoformat() for d in history.days] == ["2025-11-30", "2025-12-01", "2025-12-02", "2025-12-03",
                                                      "2025-12-04"]
    with closing(sqlite3.connect(history_db)) as conn:
        for row in history.tools:
            states = [s for (s,) in conn.execute("SELECT state FROM attempts WHERE tool = ?", (row.tool,))]
            durations = [d for (d,) in conn.execute("SELECT duration FROM attempts WHERE tool = ?", (row.tool,))]
            assert row.attempts == len(states)
            assert row.success_rate == pytest.approx(states.count("succeeded") / len(states))
            assert row.median == statistics.median(durations)
            assert row.daily_success[0] is None and row.daily_median[0] is None  # a day with no attempts
            assert all(v is not None for v in row.daily_success[1:])
    assert sorted(t.tool for t in history.tools) == sorted(TOOLS)
    assert history.tools[0].attempts >= history.tools[-1].attempts  # the busiest first


def test_history_costs_and_workstreams(history_db: Path) -> None:
    history = load(history_db, NOW, days=5)
    with closing(sqlite3.connect(history_db)) as conn:
        spent = conn.execute("SELECT SUM(usd) FROM attempts").fetchone()[0]
        quality = [d for (d,) in conn.execute(
            "SELECT ended_at - started_at FROM runs WHERE workstream = 'quality' ORDER BY created_at")]
    assert history.total_usd == pytest.approx(spent)
    assert history.daily_usd[0] is None and all(history.daily_usd[1:])
    by_name = {w.workstream: w for w in history.workstreams}
    assert set(by_name) == {"quality", "docs"} and history.workstreams[0].workstream == "docs"  # ran last
    assert list(by_name["quality"].durations) == quality[-30:] and len(quality) == RUNS // 2
    later = load(history_db, NOW + 30 * DAY, days=14)
    assert later.tools == () and later.total_usd == 0 and later.workstreams  # runs have no window


def test_window_ends_today_in_utc() -> None:
    assert [d.isoformat() for d in window(START + DAY - 1, 2)] == ["2025-11-30", "2025-12-01"]


def test_spark_scales_and_marks_gaps() -> None:
    assert spark([0.0, 0.5, 1.0, None], 0.0, 1.0) == "▁▅█·"
    assert spark([3.0, 3.0]) == "▄▄"
    assert spark([10.0, 20.0]) == "▁█"


def _app(db: Path) -> Any:
    return make_app(db.parent.parent, db, clock=lambda: NOW, live=False)


async def _history_shown(pilot: Any) -> HistoryScreen:
    for _ in range(300):
        if isinstance(pilot.app.screen, DashboardScreen):
            break
        await pilot.pause(0.02)
    await pilot.press("H")
    for _ in range(300):
        screen = pilot.app.screen
        if isinstance(screen, HistoryScreen) and screen.history is not None:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    return pilot.app.screen


def test_history_screen_by_keyboard(app_db: Path) -> None:
    asyncio.run(_by_keyboard(app_db))


async def _by_keyboard(app_db: Path) -> None:
    app = _app(app_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _history_shown(pilot)
        assert isinstance(screen, HistoryScreen)
        tools = str(screen.query_one("#tools").render())
        first = screen.history.tools[0]
        assert f"{first.tool}" in tools and f"{first.success_rate * 100:.0f}%" in tools
        assert "·" in tools  # 14 days, most without attempts
        assert "total $" in str(screen.query_one("#costs").render())
        assert "quality" in str(screen.query_one("#workstreams").render())
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


def test_history_screen_80x24(snap_compare: Any, app_db: Path) -> None:
    assert snap_compare(_app(app_db), terminal_size=(80, 24), run_before=_history_shown)


def test_history_reads_its_window_through_indexes(history_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two weeks are drawn from the attempts that ended in them and each workstream's newest runs,
    found through indexes: no read goes through every attempt or every run (2.8 s at a million
    attempts when it did)."""
    import store.history as history
    from store.views import connect_read_only

    sent: list[str] = []
    opened: list[sqlite3.Connection] = []

    def traced(path: Path) -> sqlite3.Connection:
        conn = connect_read_only(path)
        conn.set_trace_callback(sent.append)
        opened.append(conn)
        return conn

    monkeypatch.setattr(history, "connect_read_only", traced)
    found = load(history_db, NOW, days=5)
    assert found.tools and found.workstreams
    with closing(connect_read_only(history_db)) as conn:
        for sql in {s for s in sent if s.lstrip().upper().startswith("SELECT")}:
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            assert not any(line in ("SCAN attempts", "SCAN runs") or "AUTOMATIC" in line for line in plan), (sql, plan)

"""The run screen of a 10,000-step run, opened as Enter on the dashboard opens it and following
the store's feed: every row listed, only the rows on screen formatted, the filter, and a step
changing state in the store updating that one row (not the table filled again). And a waiting
step's row saying when it may start, in the run screen and in the dashboard's step table."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input

from schemas.records import StepRow
from tests.tui import stores
from tests.tui.test_dashboard import settle
from tui.app import make_app
from tui.cells import step_cells, step_state_cell
from tui.format import clock, glyph
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import RunScreen
from tui.widgets.line_table import LineTable

STEPS = 10_000
BIG = "b1g0000000aa"
#: The fixture's big run: layers of 100 steps, the 50th half done (running, succeeded, failed, retrying).
FAILED = [f"n{i}" for i in range(5_000, 5_100) if i % 4 == 2]
RUNNING = "n5000"


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose only unfinished run has 10,000 steps, each step that started with an attempt."""
    root = tmp_path_factory.mktemp("big")
    (root / ".uet").mkdir()
    db = root / ".uet" / "uet.db"
    assert stores.big(db, runs=2, steps=STEPS, events=200) == BIG
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code) "
                     "SELECT run_id, id, 1, 'sh', CASE state WHEN 'running' THEN 'running' ELSE 'succeeded' END, "
                     "? + idx * 0.01, CASE state WHEN 'running' THEN NULL ELSE ? + idx * 0.01 + 2 END, NULL "
                     "FROM steps WHERE run_id = ? AND attempts > 0", (stores.NOW - 500, stores.NOW - 500, BIG))
    return db


def test_a_10000_step_run_opens_filters_and_a_change_in_the_store_redraws_its_one_row(
        big_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    formatted: list[str] = []
    cells = RunScreen._step_cells

    def counted(screen: RunScreen, row: Any) -> tuple:
        formatted.append(row.id)
        return cells(screen, row)

    monkeypatch.setattr(RunScreen, "_step_cells", counted)
    app = make_app(big_db.parent.parent, big_db, clock=lambda: stores.NOW)  # following the store's feed

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            dashboard = app.screen
            assert isinstance(dashboard, DashboardScreen)
            runs = dashboard.query_one("#runs", LineTable)
            await settle(pilot, lambda: BIG in runs.index)
            runs.move_to(BIG)
            runs.focus()
            await settle(pilot, lambda: dashboard.selected == BIG and len(dashboard.steps) == STEPS)
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, RunScreen))
            screen = app.screen
            assert isinstance(screen, RunScreen)
            table = screen.query_one("#steps", LineTable)
            await settle(pilot, lambda: len(table.keys) == STEPS and len(screen.spans) == 5_100)
            await pilot.pause()
            assert table.border_title == "Steps (10,000)"
            assert table.keys[:3] == ["n0", "n1", "n2"] and table.keys[-1] == "n9999"
            # Only what is on screen was formatted: a few screens' worth, not 10,000 rows.
            assert 0 < len(set(formatted)) < 200, len(set(formatted))

            # The engine starts a pending step: its row changes, in place.
            filled, updated = [], []
            set_rows, update_rows = table.set_rows, table.update_rows
            table.set_rows = lambda rows, **kw: filled.append(len(rows)) or set_rows(rows, **kw)  # type: ignore
            table.update_rows = lambda rows: updated.extend(k for k, _ in rows) or update_rows(rows)  # type: ignore
            with sqlite3.connect(big_db, isolation_level=None) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE steps SET state = 'running', attempts = 1 WHERE run_id = ? AND id = 'n6000'",
                             (BIG,))
                conn.execute("INSERT INTO attempts (run_id, step_id, number, tool, state, started_at) "
                             "VALUES (?, 'n6000', 1, 'sh', 'running', ?)", (BIG, stores.NOW - 65))
                conn.execute("INSERT INTO events (ts, run_id, step_id, kind, data) "
                             "VALUES (?, ?, 'n6000', 'step.state', ?)",
                             (stores.NOW - 5, BIG, json.dumps({"from": "ready", "to": "running", "attempt": 1})))
                conn.execute("COMMIT")
            await settle(pilot, lambda: screen.steps["n6000"].state == "running" and "n6000" in screen.spans)
            await pilot.pause()
            row = table.row("n6000")
            assert row is not None and str(row[0]) == f"{glyph('running')} running" and row[3] == "1"
            assert row[5] != "-"  # RAN: its attempt was read (for this step alone)
            assert filled == [] and set(updated) == {"n6000"}

            await pilot.press("slash", *"failed")
            await pilot.pause()
            assert table.keys == FAILED and table.border_title == f"Steps {len(FAILED)} of 10,000"
            await pilot.press("enter", "escape")
            await pilot.pause()
            assert len(table.keys) == STEPS

    asyncio.run(main())


def waiting_db(db: Path, due_at: float) -> Path:
    """The fixed store, its live run's step review waiting until ``due_at`` and the run's engine
    lost (no heartbeat for an hour): its steps' times stop at its last word, a due time is still
    counted from the clock."""
    stores.small(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE steps SET state = 'waiting', due_at = ? WHERE run_id = ? AND id = 'review'",
                     (due_at, stores.LIVE_RUN))
        conn.execute("UPDATE workers SET heartbeat_at = ?, pid = 0 WHERE id = ?", (stores.NOW - 3600, stores.LIVE_WORKER))
    return db


DUE = stores.NOW + 3 * 3600 + 22 * 60 + 30


def stores_row(due_at: float) -> StepRow:
    return StepRow(stores.LIVE_RUN, "review", "command", "waiting", None, [], 0, 0, None, None, None, None, {},
                   due_at)


def test_a_waiting_step_says_when_it_may_start(tmp_path: Path) -> None:
    (tmp_path / ".uet").mkdir()
    db = waiting_db(tmp_path / ".uet" / "uet.db", DUE)
    app = make_app(tmp_path, db, clock=lambda: stores.NOW, live=False)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen) and len(app.screen.steps) == 8)
            dashboard = app.screen
            assert isinstance(dashboard, DashboardScreen)
            assert dashboard._lost_at(stores.LIVE_RUN) is not None
            assert str(dashboard._step_cells(dashboard.steps["review"])[0]) == f"{glyph('waiting')} in 3h22m"
            screen = RunScreen(stores.LIVE_RUN, "review")
            await app.push_screen(screen)
            table = screen.query_one("#steps", LineTable)
            await settle(pilot, lambda: "review" in table.index)
            row = table.row("review")
            assert screen._now() <= stores.NOW - 40  # the lost engine's last word (its last event)
            assert row is not None and str(row[0]) == f"{glyph('waiting')} in 3h22m"
            assert str(table.row("report")[0]) == f"{glyph('pending')} pending"  # type: ignore[index]
            attempts = screen.query_one("#attempts", LineTable)
            await settle(pilot, lambda: attempts.border_title == "Attempts of review")
            assert attempts.keys == [] and attempts.empty == f"waits until {clock(DUE)} (in 3h22m)"

    asyncio.run(main())


def test_the_waiting_cell_counts_down_and_reads_due_once_passed() -> None:
    w = glyph("waiting")
    row = stores_row(DUE)
    assert str(step_cells(row, stores.NOW - 3600, clock=stores.NOW)[0]) == f"{w} in 3h22m"
    assert str(step_cells(row, stores.NOW)[0]) == f"{w} in 3h22m"
    assert str(step_state_cell("waiting", DUE, stores.NOW)) == f"{w} in 3h22m"
    assert str(step_state_cell("waiting", stores.NOW + 42, stores.NOW)) == f"{w} in 42s"
    assert str(step_state_cell("waiting", stores.NOW - 1, stores.NOW)) == f"{w} due"
    assert str(step_state_cell("waiting", None, stores.NOW)) == f"{w} waiting"
    assert str(step_state_cell("running", DUE, stores.NOW)) == f"{glyph('running')} running"
    assert len(str(step_state_cell("waiting", stores.NOW + 599, stores.NOW))) <= 11  # the STATE column


@pytest.mark.parametrize(("size", "layout"), [((80, 24), "-narrow"), ((120, 40), "-wide")])
def test_the_run_screen_is_first_painted_in_the_layout_of_the_terminal_width(
        tmp_path: Path, size: tuple[int, int], layout: str) -> None:
    """At 80 columns the step table takes the whole width from the first paint on, at 120 it
    shares it with the attempts: the width's class is set when the screen mounts, not at the
    Resize that comes after its first paint (at 80 columns it drew the wide layout, side by side,
    and then all of it again)."""
    (tmp_path / ".uet").mkdir()
    db = stores.small(tmp_path / ".uet" / "uet.db")
    app = make_app(tmp_path, db, clock=lambda: stores.NOW, live=False)
    painted: list[tuple[int, set[str]]] = []

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            screen = RunScreen(stores.LIVE_RUN)
            render_line = LineTable.render_line

            def spy(table: LineTable, y: int) -> Any:
                if table.id == "steps" and table.screen is screen and not painted:
                    painted.append((table.size.width, set(screen.classes)))
                return render_line(table, y)

            LineTable.render_line = spy  # type: ignore[method-assign]
            try:
                await app.push_screen(screen)
                await settle(pilot, lambda: bool(painted))
            finally:
                LineTable.render_line = render_line  # type: ignore[method-assign]

    asyncio.run(main())
    [(width, classes)] = painted
    assert classes & {"-narrow", "-wide"} == {layout}
    full = size[0] - 4  # the screen's width but the pane's borders (and the scrollbar)
    assert (width >= full) if layout == "-narrow" else (width < full * 2 // 3), width


def test_a_filter_typed_in_one_burst_with_its_slash_keeps_every_key(tmp_path: Path) -> None:
    """``/failed`` arriving at once (typed fast, pasted, or over a slow link): the filter line
    opens and takes the focus before the keys after the ``/`` are handed on, so none is lost to
    the step table or taken by a binding (``f`` follows the log); a ``/`` on the line is a
    character."""
    (tmp_path / ".uet").mkdir()
    db = stores.small(tmp_path / ".uet" / "uet.db")
    app = make_app(tmp_path, db, clock=lambda: stores.NOW, live=False)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            screen = RunScreen(stores.LIVE_RUN)
            await app.push_screen(screen)
            table = screen.query_one("#steps", LineTable)
            await settle(pilot, lambda: len(table.keys) == 8)
            await pilot.pause()
            follow = screen.follow
            for key, character in [("slash", "/"), *((c, c) for c in "failed")]:
                app.post_message(events.Key(key, character))  # as the driver hands them on
            await settle(pilot, lambda: screen.query_one("#query", Input).value == "failed")
            await pilot.pause()
            assert table.keys == ["docs"] and screen.follow == follow
            app.post_message(events.Key("slash", "/"))
            await settle(pilot, lambda: screen.query_one("#query", Input).value == "failed/")

    asyncio.run(main())

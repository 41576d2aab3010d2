"""One definition of progress on every face: the runs table's bar and counts, the DAG pane's
footer and the run screen's header agree for a failed run, a canceled one and a running one;
a pausing run and a run held by an open breaker read so. Pilot asserts the text (glyphs and
counts, so it reads the same without colour); snapshots at 80×24 and 120×40 show the layout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.progress import Tally
from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tui.app import make_app
from tui.bars import bar, bar_cells, counts
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import RunScreen
from tui.widgets.line_table import LineTable

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
FAILED_RUN = stores.FINISHED[1][0]  # docs-site: 2 succeeded, step-3 failed, step-4 skipped
CANCELED_RUN = stores.FINISHED[2][0]  # infra-plan: 2 succeeded, 4 canceled


def app_for(db: Path):  # noqa: ANN201
    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


def set_activity(db: Path, **fields: Any) -> None:
    with sqlite3.connect(db) as conn:
        for name, value in fields.items():
            conn.execute(f"UPDATE runs SET {name} = ? WHERE id = ?", (value, stores.LIVE_RUN))


def row_text(app: Any, run_id: str) -> list[str]:
    row = app.screen.query_one("#runs", LineTable).row(run_id)
    assert row is not None
    return [str(cell) for cell in row]


def test_the_bar_has_a_glyph_per_end_and_is_full_only_when_every_step_succeeded() -> None:
    assert bar(Tally(4, 2, 1, 1)).plain == "████▓▓▒▒  50%"
    assert bar(Tally(6, 2, canceled=4)).plain == "██╌╌╌╌╌╌  33%"
    assert bar(Tally(61, 57, 2, 2)).plain == "██████▓▒  93%", "two failures of 61 still show"
    assert bar(Tally(61, 11, canceled=50)).plain.endswith(" 18%"), "canceled at 11/61 never reads 100%"
    assert bar(Tally(8, 3, 1, running=1)).plain == "███▓░░░░  38%"
    assert bar(Tally(5, 5)).plain == "████████ 100%"
    assert bar(Tally(61, 60, running=1)).plain.count("█") == 7, "99% is not a full bar"
    for tally in (Tally(61, 57, 2, 2), Tally(7, 1, 1, 1, 1), Tally(3), Tally(0)):
        assert sum(n for _, n in bar_cells(tally)) == 8
    assert counts(Tally(61, 57, 2, 2)).plain == "57/61 ✘2 ↷2"
    assert counts(Tally(61, 11, 2, 3, 45), room=10).plain == "11/61 ✘2", "failures are the last to go"


def test_failed_canceled_and_running_rows_agree_with_the_footer_and_the_run_header(fixed_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        app = fixed_app
        live = row_text(app, stores.LIVE_RUN)
        assert live[4] == "███▓░░░░  38%" and live[5] == "3/8 ✘1", live
        failed = row_text(app, FAILED_RUN)
        assert (failed[0], failed[4], failed[5]) == ("✘ failed", "████▓▓▒▒  50%", "2/4 ✘1 ↷1")
        canceled = row_text(app, CANCELED_RUN)
        assert (canceled[0], canceled[4], canceled[5]) == ("⊘ canceled", "██╌╌╌╌╌╌  33%", "2/6 ⊘4")
        screen = app.screen
        views = screen.query_one("#views")
        await settle(pilot, lambda: len(screen.steps) == 8)
        assert str(views.border_subtitle).startswith("✔ 3 ✘ 1 ▶ 1 of 8"), views.border_subtitle
        await pilot.press("j", "j")
        await settle(pilot, lambda: screen.selected == FAILED_RUN and len(screen.steps) == 4)
        assert str(views.border_subtitle).startswith("✔ 2 ✘ 1 ↷ 1 of 4"), views.border_subtitle
        await pilot.press("j")
        await settle(pilot, lambda: screen.selected == CANCELED_RUN and len(screen.steps) == 6)
        assert str(views.border_subtitle).startswith("✔ 2 ⊘ 4 of 6"), views.border_subtitle
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
        header = app.screen.query_one("#summary").render()
        assert "██╌╌╌╌╌╌  33% 2/6 ⊘4" in str(header), header

    drive(fixed_app, scenario)


def test_a_pausing_run_reads_pausing_not_running(fixed_db: Path) -> None:
    set_activity(fixed_db, pausing="paused by ana")
    app = app_for(fixed_db)

    async def scenario(pilot: Any) -> None:
        cells = row_text(app, stores.LIVE_RUN)
        assert cells[0] == "‖ pausing" and cells[7] == "-", cells  # no ETA while it pauses
        screen = app.screen
        await settle(pilot, lambda: len(screen.steps) == 8)
        title = str(screen.query_one("#views").border_title)
        assert "pausing (paused by ana): 1 running step(s) finish" in title, title

    drive(app, scenario, size=(160, 40))


def test_a_run_held_by_an_open_breaker_says_so_with_the_probe_time(fixed_db: Path) -> None:
    set_activity(fixed_db, waiting_on="sim-flaky", waiting_until=stores.NOW + 12)
    app = app_for(fixed_db)

    async def scenario(pilot: Any) -> None:
        cells = row_text(app, stores.LIVE_RUN)
        assert cells[0] == "○ waiting" and cells[7] == "-", cells
        screen = app.screen
        await settle(pilot, lambda: len(screen.steps) == 8)
        assert "waiting on breaker sim-flaky (probe in 12.0s)" in str(screen.query_one("#views").border_title)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
        header = str(app.screen.query_one("#summary").render())
        assert "○ waiting" in header and "waiting on breaker sim-flaky (probe in 12.0s)" in header, header

    drive(app, scenario, size=(120, 40))


async def _selected(pilot: Any, run_id: str, steps: int, keys: tuple[str, ...] = ()) -> None:
    for _ in range(200):
        screen = pilot.app.screen
        if isinstance(screen, DashboardScreen) and screen.query_one("#runs", LineTable).keys and \
                len(screen.steps) == 8:
            break
        await pilot.pause(0.02)
    await pilot.press(*keys)
    for _ in range(200):
        screen = pilot.app.screen
        if screen.selected == run_id and len(screen.steps) == steps:
            break
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_failed_run_snapshot(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    async def chosen(pilot: Any) -> None:
        await _selected(pilot, FAILED_RUN, 4, ("j", "j"))

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=chosen)


@pytest.mark.parametrize("size", SIZES)
def test_canceled_run_snapshot(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    async def chosen(pilot: Any) -> None:
        await _selected(pilot, CANCELED_RUN, 6, ("j", "j", "j"))

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=chosen)


@pytest.mark.parametrize("size", SIZES)
def test_pausing_run_snapshot(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    set_activity(fixed_db, pausing="paused by ana")

    async def chosen(pilot: Any) -> None:
        await _selected(pilot, stores.LIVE_RUN, 8)

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=chosen)


@pytest.mark.parametrize("size", SIZES)
def test_canceled_run_screen_snapshot(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    async def opened(pilot: Any) -> None:
        await _selected(pilot, CANCELED_RUN, 6, ("j", "j", "j"))
        await pilot.press("enter")
        for _ in range(200):
            if len(getattr(pilot.app.screen, "steps", {})) == 6 and getattr(pilot.app.screen, "run", None):
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=opened)


def test_a_cancel_with_no_engine_moves_the_row_and_the_footer_together(fixed_db: Path) -> None:
    """The live run's engine is gone (its heartbeat is stale by the wall clock): a cancel from
    the store alone ends its steps and the dashboard, following the feed, shows the canceled
    counts in the row and the footer alike: 3/8 with one failure and four canceled."""
    from engine.session import cancel_offline
    from store import Store

    app = make_app(fixed_db.parent.parent, fixed_db, clock=lambda: stores.NOW, live=True)

    async def scenario(pilot: Any) -> None:
        screen = app.screen
        await settle(pilot, lambda: len(screen.steps) == 8)
        store = Store(fixed_db)
        try:
            await asyncio.to_thread(cancel_offline, store, stores.LIVE_RUN, "test")
        finally:
            store.close()
        await settle(pilot, lambda: row_text(app, stores.LIVE_RUN)[0] == "⊘ canceled")
        cells = row_text(app, stores.LIVE_RUN)
        assert (cells[4], cells[5]) == ("███▓╌╌╌╌  38%", "3/8 ✘1 ⊘4"), cells
        await settle(pilot, lambda: str(screen.query_one("#views").border_subtitle).startswith("✔ 3 ✘ 1 ⊘ 4 of 8"))

    drive(app, scenario)


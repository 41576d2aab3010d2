"""How each screen looks over the fixed store, at 80×24 and 120×40.

The first run writes the SVGs under __snapshots__/; after a change, look at the report before
accepting new ones with ``--snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui import stores
from tui.app import make_app
from tui.screens.dashboard import DashboardScreen
from tui.widgets.event_log import EventLog
from tui.widgets.line_table import LineTable

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def app_for(db: Path):  # noqa: ANN201
    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


async def loaded(pilot: Any) -> None:
    app = pilot.app
    for _ in range(200):
        screen = app.screen
        if isinstance(screen, DashboardScreen) and screen.query_one("#runs", LineTable).keys and len(screen.steps) == 8:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    # The events pane follows its end once its lines are laid out: on a busy machine the picture
    # could be taken before that scroll, with the first events showing instead of the last.
    # The panes size to their content, so the events pane's height (and its end) can move once
    # more after the runs arrive: wait until it has stood still at its end for a few frames.
    log = app.screen.query_one(EventLog)
    seen, steady = None, 0
    for _ in range(300):
        now = (len(log.shown), log.size, log.max_scroll_y, log.scroll_y)
        at_end = log.shown and log.scroll_y >= log.max_scroll_y
        steady = steady + 1 if at_end and now == seen else 0
        if steady >= 3:
            break
        seen = now
        await pilot.pause(0.03)


async def above_the_dashboard(pilot: Any) -> None:
    """Wait until a screen (a question, the help, the launcher) is open over the dashboard: on a
    busy machine a fixed pause can end before it is shown."""
    for _ in range(200):
        if not isinstance(pilot.app.screen, DashboardScreen):
            break
        await pilot.pause(0.02)
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_steps_view(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    async def steps(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("t", "t")
        for _ in range(200):  # until RAN and QUEUED are read (six steps have attempts)
            if len(getattr(pilot.app.screen, "spans", {})) == 6:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        # No COST column: the dashboard reads each run's cost, not each step's (a column of '-').
        table = pilot.app.screen.query_one("#steps")
        assert [c.title for c in table.columns][-2:] == ["RAN", "QUEUED"]

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=steps)


@pytest.mark.parametrize("size", SIZES)
def test_run_screen(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    async def opened(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("enter")
        for _ in range(200):
            if len(getattr(pilot.app.screen, "steps", {})) == 8:
                break
            await pilot.pause(0.02)
        await pilot.press("j", "j", "j", "j")  # test-integration: two attempts
        for _ in range(200):
            if pilot.app.screen.query_one("#attempts", LineTable).keys == ["1", "2"]:
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=opened)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    async def helped(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await above_the_dashboard(pilot)

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=helped)


@pytest.mark.parametrize("size", SIZES)
def test_launch(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    root = fixed_db.parent.parent
    (root / ".uet" / "workstreams").mkdir()
    (root / ".uet" / "workstreams" / "lint.yaml").write_text("name: lint\nsteps:\n  - id: a\n    run: 'true'\n")
    (root / "nightly.yaml").write_text("name: nightly\nsteps:\n  - id: a\n    run: 'true'\n")

    async def launching(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("L")
        await above_the_dashboard(pilot)

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=launching)


@pytest.mark.parametrize("size", SIZES)
def test_cancel_question(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    async def asking(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("c")
        await above_the_dashboard(pilot)
        # The reason field's cursor blinks: a picture taken mid-blink differs from one taken
        # a moment later. A steady cursor makes the picture the same every time.
        from textual.widgets import Input

        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=asking)


@pytest.mark.parametrize("size", SIZES)
def test_quit_question(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    from tui.screens.quit import QuitScreen

    async def asking(pilot: Any) -> None:
        await loaded(pilot)
        pilot.app.push_screen(QuitScreen(2, 3))
        await above_the_dashboard(pilot)

    assert snap_compare(app_for(fixed_db), terminal_size=size, run_before=asking)

"""The dashboard's steps view says how long each step ran and how long it waited to run (RAN and
QUEUED), from the same cells as the run screen: at 80x24 the two tables give the same figures
for every step, and the dashboard's 41 columns keep STATE, STEP, TOOL, RAN and QUEUED. The run
screen's step table marks the rows below it in its border, not with a scrollbar."""

from __future__ import annotations

from typing import Any

from tests.tui.test_dashboard import drive, settle
from tests.tui.test_dashboard_fit import drawn
from tui.app import UetApp
from tui.screens.run import RunScreen
from tui.widgets.line_table import LineTable


def figures(table: LineTable) -> dict[str, tuple[str, ...]]:
    """Each step's STATE, STEP, TOOL, RAN and QUEUED as the table has them."""
    return {key: tuple(str(cell) for i, cell in enumerate(table.row(key) or ()) if i in (0, 1, 2, 5, 6))
            for key in table.keys}


def test_the_steps_view_shows_ran_and_queued_as_the_run_screen_does(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        dashboard = fixed_app.screen
        await settle(pilot, lambda: len(dashboard.steps) == 8)
        await pilot.press("t", "t")
        table = dashboard.query_one("#steps", LineTable)
        await settle(pilot, lambda: len(dashboard.spans) == 6 and len(table.keys) == 8)  # six steps have attempts
        await pilot.pause()
        assert drawn(table)[0].split() == ["STATE", "STEP", "TOOL", "RAN", "QUEUED"]
        assert any(line.startswith("✔ succeeded fix") and line.rstrip().endswith("40s   5.8s")
                   for line in drawn(table))
        on_dashboard = figures(table)
        # fix ran twice (40 s in all) and waited 5.8 s; test-integration waits for its third try.
        assert on_dashboard["fix"][3:] == ("40s", "5.8s")
        assert on_dashboard["review"][3:] == ("-", "-")
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(fixed_app.screen, RunScreen) and len(fixed_app.screen.spans) == 6)
        await pilot.pause()
        steps = fixed_app.screen.query_one("#steps", LineTable)
        assert figures(steps) == on_dashboard
        # No scrollbar (its thumb read as a stray ▇ under NO_COLOR): the border says what is below.
        assert steps.scrollbar_size_vertical == 0 and str(steps.border_subtitle) == "… 1 more"

    drive(fixed_app, scenario)

"""What the dashboard and the run screen must fit at the two sizes the snapshots show, asserted
on the drawn lines: no step of the fixed run's DAG cut off at 120 columns, a probe time whole,
the attempts' TOOK whole at 80 columns, and a log pane that says it is empty."""

from __future__ import annotations

from typing import Any

from rich.segment import Segment

from tests.tui.test_dashboard import drive, settle
from tui.app import UetApp
from tui.screens.run import RunScreen
from tui.widgets.dag_view import DagView
from tui.widgets.line_table import LineTable


def drawn(widget: Any) -> list[str]:
    """The widget's content lines as it draws them now (inside its border)."""
    return [widget.render_line(y).text for y in range(widget.scrollable_content_region.height)]


def test_at_120_columns_the_whole_dag_and_the_probe_time_show(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        dashboard = fixed_app.screen
        await settle(pilot, lambda: len(dashboard.steps) == 8)
        await pilot.pause()
        dag = dashboard.query_one(DagView)
        lines = drawn(dag)
        for step in dashboard.steps:
            assert any(f" {step}" in line for line in lines), step
        assert not any("…" in line for line in lines), "nothing is cut off"
        breakers = drawn(dashboard.query_one("#breakers", LineTable))
        assert breakers[0].rstrip().endswith("PROBE")
        assert [line.rstrip() for line in breakers if line.startswith("sim-flaky")][0].endswith("3/4 in 20.0s")

    drive(fixed_app, scenario, size=(120, 40))


def test_at_80_columns_the_cut_dag_says_so(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        dashboard = fixed_app.screen
        await settle(pilot, lambda: len(dashboard.steps) == 8)
        await pilot.pause()
        lines = drawn(dashboard.query_one(DagView))
        assert lines[0].startswith("✔ typecheck") and lines[0].rstrip().endswith("…")
        breakers = drawn(dashboard.query_one("#breakers", LineTable))
        assert [line.rstrip() for line in breakers if line.startswith("sim-fla")][0].endswith("3/4 in 20.0s")

    drive(fixed_app, scenario)


def test_at_80_columns_the_run_screen_shows_took_whole_and_an_empty_log_says_so(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(fixed_app.screen, RunScreen)
                     and len(fixed_app.screen.query_one("#steps", LineTable).keys) == 8)
        run_screen = fixed_app.screen
        await pilot.press("j", "j", "j", "j")  # test-integration: two failed attempts, no log
        attempts = run_screen.query_one("#attempts", LineTable)
        await settle(pilot, lambda: attempts.keys == ["1", "2"])
        await pilot.pause()
        lines = [line.rstrip() for line in drawn(attempts)]
        assert lines[0].endswith("EXIT   TOOK")
        assert lines[1].endswith("1   4.0s") and lines[2].endswith("1   4.0s")
        log = run_screen.query_one("#log")
        await settle(pilot, lambda: "test-integration" in str(log.border_title))
        first: list[Segment] = list(log.render_line(0))
        assert "".join(segment.text for segment in first).rstrip() == "attempt 2 wrote no output"  # ended: not "yet"
        assert any(segment.style is not None and segment.style.dim for segment in first)

    drive(fixed_app, scenario)

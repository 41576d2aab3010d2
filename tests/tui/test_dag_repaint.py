"""What the dashboard sends to the terminal when one step of the shown run changes state: the
DAG's line of that step and the pane's border line with the counts, not every line of the DAG
(a pane's title set through Textual's setter repaints the whole pane, children included).

The screen updates are caught where the app hands them to its driver (``App._display``), so
the test sees the lines a terminal would receive."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Static

from tests.tui import stores
from tests.tui.test_dashboard import settle
from tui.app import UetApp, make_app
from tui.format import glyph
from tui.screens.dashboard import DashboardScreen
from tui.widgets.dag_view import DagView
from tui.widgets.titles import retitle


def caught_updates(app: UetApp) -> list[tuple[int, int, int] | None]:
    """From now on, each painted span ``(y, x_start, x_end)`` of the screen (None for an update
    that repaints the whole screen)."""
    spans: list[tuple[int, int, int] | None] = []
    display = app._display

    def catch(screen: Any, renderable: Any) -> None:
        if isinstance(renderable, CompositorUpdate):
            spans.extend(getattr(renderable, "spans", None) or [None])
        display(screen, renderable)

    app._display = catch  # type: ignore[method-assign]
    return spans


def lines_within(spans: list[tuple[int, int, int] | None], region: Region) -> set[int]:
    """The lines of ``region`` something was painted on, wider than a scrollbar's one cell."""
    lines = set()
    for span in spans:
        if span is None:
            return set(range(region.y, region.bottom))
        y, start, end = span
        if region.y <= y < region.bottom and min(end, region.right) - max(start, region.x) > 1:
            lines.add(y)
    return lines


def test_one_step_changing_state_repaints_its_dag_line_and_the_counts_not_the_dag(fixed_db: Path) -> None:
    app = make_app(fixed_db.parent.parent, fixed_db, clock=lambda: stores.NOW)  # following the store's feed

    async def scenario(pilot: Any) -> None:
        await settle(pilot, lambda: isinstance(app.screen, DashboardScreen) and len(app.screen.steps) == 8)
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen) and dashboard.view == "dag"
        dag = dashboard.query_one(DagView)
        await pilot.pause(0.2)
        pane, drawn = dashboard.query_one("#views").region, dag.content_region
        assert drawn.height >= 4  # a DAG of several lines, so "one line" means something
        counts = str(dashboard.query_one("#views").border_subtitle)
        spans = caught_updates(app)

        # What an engine writes when the failed step docs, retried, runs again: its row, the run's
        # counts, the event.
        with sqlite3.connect(fixed_db, isolation_level=None) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE steps SET state = 'running' WHERE run_id = ? AND id = 'docs'", (stores.LIVE_RUN,))
            conn.execute("UPDATE runs SET running_steps = running_steps + 1, failed_steps = failed_steps - 1, "
                         "done_steps = done_steps - 1 WHERE id = ?", (stores.LIVE_RUN,))
            conn.execute("INSERT INTO events (ts, run_id, step_id, kind, data) VALUES (?, ?, 'docs', 'step.state', ?)",
                         (stores.NOW, stores.LIVE_RUN, json.dumps({"from": "ready", "to": "running", "attempt": 4})))
            conn.execute("COMMIT")
        await settle(pilot, lambda: dashboard.steps["docs"].state == "running"
                     and str(dashboard.query_one("#views").border_subtitle) != counts)
        await pilot.pause(0.2)

        repainted = lines_within(spans, drawn)
        assert len(repainted) == 1, f"DAG lines repainted: {sorted(repainted)} of {drawn.height}"
        [line] = repainted
        shown = dag.render_line(line - drawn.y).text
        assert f"{glyph('running')} docs" in shown, shown
        # Of the pane's border, only its bottom line, where the counts are.
        assert lines_within(spans, pane) - repainted == {pane.bottom - 1}

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await scenario(pilot)

    asyncio.run(main())


class Pane(App[None]):
    CSS = "Static { border: round white; height: 6; }"

    def compose(self) -> ComposeResult:
        yield Static("a\nb\nc\nd")


def test_retitle_repaints_the_border_line_alone_and_only_when_the_words_change() -> None:
    async def main() -> None:
        app = Pane()
        async with app.run_test(size=(30, 10)) as pilot:
            pane = app.query_one(Static)
            await pilot.pause()
            spans = caught_updates(app)  # type: ignore[arg-type]
            retitle(pane, "one", "two")
            await pilot.pause()
            assert (str(pane.border_title), str(pane.border_subtitle)) == ("one", "two")
            assert lines_within(spans, pane.region) == {pane.region.y, pane.region.bottom - 1}
            spans.clear()
            retitle(pane, "one", "two")
            await pilot.pause()
            assert lines_within(spans, pane.region) == set()
            retitle(pane, "three")
            await pilot.pause()
            assert lines_within(spans, pane.region) == {pane.region.y}
            assert "three" in app.export_screenshot() and "one" not in app.export_screenshot()

    asyncio.run(main())

"""What the snapshots show, asserted where a ``--snapshot-update`` cannot accept it by mistake:
each state's glyph as the tables and the DAG draw it, and each screen's keys bound to their
actions and doing what they say. The expected glyphs and keys are written out here by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from schemas.settings import TuiSettings
from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tui.app import UetApp, make_app
from tui.format import label
from tui.screens.ask import AskScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import RunScreen
from tui.widgets.dag_view import DagView
from tui.widgets.event_log import EventLog
from tui.widgets.line_table import LineTable

GLYPHS = {
    "pending": "·", "waiting": "⧖", "ready": "○", "running": "▶", "retrying": "↻", "paused": "‖", "succeeded": "✔",
    "failed": "✘", "skipped": "↷", "canceled": "⊘", "quarantined": "⚠", "timed_out": "⧗", "crashed": "☠",
    "closed": "●", "open": "○", "half_open": "◐", "lost": "☠",
}
ASCII_GLYPHS = {"pending": ".", "running": "*", "retrying": "@", "succeeded": "v", "failed": "x"}

# key -> (action, binding id), as the footer and the help screen offer them.
DASHBOARD_KEYS = {
    "slash": ("filter", "dashboard.filter"),
    "f": ("toggle_follow", "dashboard.follow"),
    "t": ("cycle_view", "dashboard.view"),
    "o": ("open_run", "dashboard.open"),
    "c": ("cancel_run", "dashboard.cancel"),
    "p": ("pause_run", "dashboard.pause"),
    "R": ("resume_run", "dashboard.resume"),
    "r": ("retry_step", "dashboard.retry"),
    "escape": ("clear_filter", "dashboard.clear_filter"),
    "q": ("quit_app", "app.quit"),
    "question_mark": ("help", "app.help"),
    "L": ("launch", "app.launch"),
    "B": ("bootstrap", "app.bootstrap"),
    "P": ("patches", "app.patches"),
    "E": ("profiles", "app.profiles"),
    "T": ("tools", "app.tools"),
}
RUN_KEYS = {
    "escape": ("back", "run.back"),
    "c": ("cancel_run", "run.cancel"),
    "p": ("pause_run", "run.pause"),
    "R": ("resume_run", "run.resume"),
    "r": ("retry_step", "run.retry"),
    "f": ("toggle_follow", "run.follow"),
}


def bound(screen: Any) -> dict[str, tuple[str, str | None]]:
    return {key: (active.binding.action, active.binding.id) for key, active in screen.active_bindings.items()}


@pytest.mark.parametrize("state", sorted(GLYPHS))
def test_each_state_has_its_own_glyph_and_word(state: str) -> None:
    assert label(state) == f"{GLYPHS[state]} {state}"


def test_tables_and_dag_draw_each_state_with_its_glyph(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        dashboard = fixed_app.screen
        await settle(pilot, lambda: len(dashboard.steps) == 8)
        runs = dashboard.query_one("#runs", LineTable)
        assert {key: str(runs.row(key)[0]) for key in runs.keys} == {
            "3f2a9c81d0e4": "▶ running", "5b01c4e2a7d3": "✔ succeeded", "77f0b9d21c08": "✘ failed",
            "a3c9e0f47b12": "⊘ canceled", "c4d2aa019f3e": "‖ paused"}
        breakers = dashboard.query_one("#breakers", LineTable)
        assert {key: str(breakers.row(key)[1]) for key in breakers.keys} == {
            "pytest": "◐ half_open", "ruff": "● closed", "sim-flaky": "○ open"}
        await pilot.pause()
        dag = dashboard.query_one(DagView)
        drawn = "\n".join(strip.text for strip in dag.render_lines(dag.region.reset_offset))
        for step, state in (("lint", "succeeded"), ("test-unit", "running"), ("test-integration", "retrying"),
                            ("docs", "failed"), ("review", "pending")):
            assert f"{GLYPHS[state]} {step}" in drawn, step
        await pilot.press("t", "t")
        steps = dashboard.query_one("#steps", LineTable)
        await settle(pilot, lambda: len(steps.keys) == 8)
        assert {key: str(steps.row(key)[0]) for key in steps.keys} == {
            "lint": "✔ succeeded", "typecheck": "✔ succeeded", "fix": "✔ succeeded", "test-unit": "▶ running",
            "test-integration": "↻ retrying", "docs": "✘ failed", "review": "· pending", "report": "· pending"}

    drive(fixed_app, scenario, size=(120, 40))


def test_the_ascii_dag_draws_each_state_with_its_ascii_glyph(fixed_db: Path) -> None:
    app = make_app(fixed_db.parent.parent, fixed_db, TuiSettings(ascii=True), clock=lambda: stores.NOW, live=False)

    async def scenario(pilot: Any) -> None:
        await settle(pilot, lambda: len(app.screen.steps) == 8)
        await pilot.pause()
        dag = app.screen.query_one(DagView)
        drawn = "\n".join(strip.text for strip in dag.render_lines(dag.region.reset_offset))
        for step, state in (("lint", "succeeded"), ("test-unit", "running"), ("test-integration", "retrying"),
                            ("docs", "failed"), ("review", "pending")):
            assert f"{ASCII_GLYPHS[state]} {step}" in drawn, step

    drive(app, scenario, size=(120, 40))


def test_dashboard_and_run_screen_keys_are_bound_and_act(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        dashboard = fixed_app.screen
        assert {key: bound(dashboard).get(key) for key in DASHBOARD_KEYS} == DASHBOARD_KEYS
        log = dashboard.query_one(EventLog)
        await pilot.press("f")
        assert not log.follow
        await pilot.press("f")
        assert log.follow
        await pilot.press("t")
        assert dashboard.query_one("#views").current == "tree"
        await pilot.press("slash")
        assert dashboard.query_one("#filter").display
        await pilot.press(*"nightly", "enter")
        await settle(pilot, lambda: dashboard.query_one("#runs", LineTable).keys == ["c4d2aa019f3e"])
        await pilot.press("escape")
        await settle(pilot, lambda: len(dashboard.query_one("#runs", LineTable).keys) == 5)
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(fixed_app.screen, AskScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: fixed_app.screen is dashboard)

        await pilot.press("o")
        await settle(pilot, lambda: isinstance(fixed_app.screen, RunScreen))
        run_screen = fixed_app.screen
        assert run_screen.run_id == dashboard.selected
        assert {key: bound(run_screen).get(key) for key in RUN_KEYS} == RUN_KEYS
        await pilot.press("f")
        assert not run_screen.follow and "held" in str(run_screen.query_one("#log").border_subtitle)
        await pilot.press("f")
        assert run_screen.follow
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(fixed_app.screen, AskScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: fixed_app.screen is run_screen)
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen))

    drive(fixed_app, scenario)

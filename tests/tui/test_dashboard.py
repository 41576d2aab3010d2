"""The dashboard through Pilot over a fixed store: what it lists, navigation, filter, help,
the command palette and the actions, which go through the real store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from store import Store, queries
from tests.tui import stores
from tui.app import UetApp
from tui.screens.ask import AskScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.run import RunScreen
from tui.widgets.event_log import EventLog
from tui.widgets.line_table import LineTable


def drive(app: UetApp, scenario: Callable[[Any], Awaitable[None]], size: tuple[int, int] = (80, 24)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and bool(app.screen.query_one("#runs", LineTable).keys))
            await scenario(pilot)

    asyncio.run(main())


async def settle(pilot: Any, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for the app to reach a state: its workers and messages, not a clock."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "the app did not get there"
        await pilot.pause(0.02)


def runs_table(app: UetApp) -> LineTable:
    return app.screen.query_one("#runs", LineTable)


def test_runs_are_listed_newest_first_with_state_words(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        table = runs_table(fixed_app)
        assert table.keys == [stores.LIVE_RUN] + [r[0] for r in stores.FINISHED]
        first = table.row(stores.LIVE_RUN)
        assert first is not None and str(first[0]) == "▶ running" and str(first[5]) == "3/8 ✘1"
        assert "$0.42" in str(first[8])
        await settle(pilot, lambda: len(fixed_app.screen.steps) == 8)
        assert fixed_app.screen.selected == stores.LIVE_RUN
        breakers = fixed_app.screen.query_one("#breakers", LineTable)
        assert breakers.keys == ["pytest", "ruff", "sim-flaky"]
        assert str(breakers.row("sim-flaky")[1]) == "○ open" and breakers.row("sim-flaky")[3] == "in 20.0s"

    drive(fixed_app, scenario)


def test_keyboard_moves_between_runs_and_views_and_opens_a_run(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("j")
        await settle(pilot, lambda: fixed_app.screen.selected == stores.FINISHED[0][0])
        await settle(pilot, lambda: len(fixed_app.screen.steps) == 5)
        await pilot.press("k")
        await settle(pilot, lambda: len(fixed_app.screen.steps) == 8)
        await pilot.press("t")
        assert fixed_app.screen.query_one("#views").current == "tree"
        await pilot.press("t")
        assert fixed_app.screen.query_one("#views").current == "steps"
        await pilot.press("t")
        assert fixed_app.screen.query_one("#views").current == "dag"
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(fixed_app.screen, RunScreen)
                     and len(fixed_app.screen.query_one("#steps", LineTable).keys) == 8)
        run_screen = fixed_app.screen
        await pilot.press("j", "j", "j")  # test-unit
        await settle(pilot, lambda: run_screen.step_id == "test-unit"
                     and run_screen.query_one("#attempts", LineTable).keys == ["1"])
        await pilot.press("j")
        await settle(pilot, lambda: run_screen.query_one("#attempts", LineTable).keys == ["1", "2"])
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen))

    drive(fixed_app, scenario)


def test_filter_narrows_the_runs_and_escape_clears_it(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("slash")
        await pilot.press(*"docs", "enter")
        await settle(pilot, lambda: runs_table(fixed_app).keys == ["77f0b9d21c08"])
        assert "/docs" in str(runs_table(fixed_app).border_title)
        await pilot.press("escape")
        await settle(pilot, lambda: len(runs_table(fixed_app).keys) == 5)

    drive(fixed_app, scenario)


def test_event_log_filters_and_pauses(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        log = fixed_app.screen.query_one(EventLog)
        assert any("breaker sim-flaky closed → open" in line.plain for line in log.kept)
        log.focus()
        await pilot.press("f")
        assert not log.follow and "paused" in str(log.border_title)
        await pilot.press("slash", *"breaker", "enter")
        await settle(pilot, lambda: log.pattern == "breaker")
        assert len(log.shown) == 1
        await pilot.press("escape")
        await settle(pilot, lambda: log.pattern == "")

    drive(fixed_app, scenario)


def test_help_lists_every_binding_with_its_id(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(fixed_app.screen, HelpScreen))
        ids = {row[2] for row in fixed_app.screen.query_one("#keys", LineTable).rows.values()}
        assert {"dashboard.cancel", "dashboard.filter", "dashboard.view", "app.launch", "app.quit"} <= ids
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen))

    drive(fixed_app, scenario)


def test_command_palette_runs_a_screen_action(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"View")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen)
                     and fixed_app.screen.query_one("#views").current == "tree")

    drive(fixed_app, scenario)


def test_cancel_and_pause_go_through_the_store(fixed_app: UetApp, fixed_db: Path) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("p")
        await settle(pilot, lambda: queries.get_run(stores.LIVE_RUN).state.value == "paused")
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(fixed_app.screen, AskScreen))
        await pilot.press(*"wrong branch", "enter")
        await settle(pilot, lambda: queries.get_run(stores.LIVE_RUN).state.value == "canceled")
        assert queries.get_run(stores.LIVE_RUN).reason == "wrong branch"

    drive(fixed_app, scenario)
    with Store(fixed_db):
        assert {s.state.value if hasattr(s.state, "value") else s.state
                for s in queries.steps(stores.LIVE_RUN)} <= {"succeeded", "failed", "canceled"}


def test_keymap_from_settings_rebinds_an_action(fixed_db: Path) -> None:
    from schemas.settings import TuiSettings
    from tui.app import make_app

    app = make_app(fixed_db.parent.parent, fixed_db, TuiSettings(keymap={"dashboard.view": "w"}),
                   clock=lambda: stores.NOW, live=False)

    async def scenario(pilot: Any) -> None:
        await pilot.press("w")
        assert app.screen.query_one("#views").current == "tree"

    drive(app, scenario)


def test_ascii_setting_draws_the_dag_without_box_characters(fixed_db: Path) -> None:
    from schemas.settings import TuiSettings
    from tui.app import make_app
    from tui.widgets.dag_view import DagView

    app = make_app(fixed_db.parent.parent, fixed_db, TuiSettings(ascii=True), clock=lambda: stores.NOW, live=False)

    async def scenario(pilot: Any) -> None:
        await settle(pilot, lambda: len(app.screen.steps) == 8)
        await pilot.pause()
        drawn = "\n".join(line.text for line in app.screen.query_one(DagView).render_lines(
            app.screen.query_one(DagView).region.reset_offset))
        assert "typecheck" in drawn and "-+-" in drawn and not set(drawn) & set("─│┌┐└┘├┤┬┴┼▸")

    drive(app, scenario)

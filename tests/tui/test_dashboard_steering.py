"""Steering keys through Pilot, over a run a live engine owns: each key must reach the store as
the request it names (R asks to resume, not to pause; r names the highlighted step), on the
dashboard and on the run screen. The test process plays the engine (a worker row with its pid
and a fresh heartbeat), so the requests land in the commands table for the engine to take."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tui.app import UetApp, make_app
from tui.screens.run import RunScreen
from tui.widgets.dag_view import DagView
from tui.widgets.line_table import LineTable


@pytest.fixture
def beat(fixed_db: Path) -> Callable[[], None]:
    return stores.own(fixed_db, stores.LIVE_RUN)


@pytest.fixture
def owned_app(fixed_db: Path, beat: Callable[[], None]) -> UetApp:
    return make_app(fixed_db.parent.parent, fixed_db, clock=lambda: stores.NOW, live=False)


def asked(db: Path) -> list[tuple[str, dict]]:
    return [(kind, args) for kind, args, _by in stores.commands(db, stores.LIVE_RUN)]


async def press_and_steer(pilot: Any, key: str) -> None:
    """Press ``key`` and wait until the request it made has been carried out (its steering
    worker is done), so what the store holds afterwards is all the key asked for."""
    await pilot.press(key)
    await settle(pilot, lambda: not [w for w in pilot.app.workers
                                     if w.group == "steer" and not w.is_finished])


def test_resume_key_asks_the_engine_to_resume(owned_app: UetApp, fixed_db: Path, beat: Callable[[], None]) -> None:
    async def scenario(pilot: Any) -> None:
        await settle(pilot, lambda: owned_app.screen.selected == stores.LIVE_RUN)
        beat()
        await press_and_steer(pilot, "R")
        assert stores.commands(fixed_db, stores.LIVE_RUN) == [("resume", {}, owned_app.user)]

    drive(owned_app, scenario)


def test_retry_key_on_the_dashboard_names_the_step_under_the_dag_cursor(
        owned_app: UetApp, fixed_db: Path, beat: Callable[[], None]) -> None:
    async def scenario(pilot: Any) -> None:
        dashboard = owned_app.screen
        await settle(pilot, lambda: len(dashboard.steps) == 8)
        await pilot.press("r")
        await settle(pilot, lambda: any("highlight a step first" in n.message
                                        for n in owned_app._notifications))
        assert asked(fixed_db) == [], "no step highlighted: nothing is asked"
        dag = dashboard.query_one(DagView)
        dag.focus()
        await pilot.press("l", "j")  # from typecheck: the next layer (fix), then the step below it
        await settle(pilot, lambda: dashboard.step == "docs")
        assert dag.cursor_step == "docs"
        beat()
        await press_and_steer(pilot, "r")
        assert asked(fixed_db) == [("retry", {"step": "docs"})]

    drive(owned_app, scenario, size=(120, 40))


def test_run_screen_retry_and_resume_keys(owned_app: UetApp, fixed_db: Path, beat: Callable[[], None]) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(owned_app.screen, RunScreen)
                     and len(owned_app.screen.query_one("#steps", LineTable).keys) == 8)
        run_screen = owned_app.screen
        await pilot.press("j", "j", "j", "j", "j")
        await settle(pilot, lambda: run_screen.step_id == "docs")
        beat()
        await press_and_steer(pilot, "r")
        beat()
        await press_and_steer(pilot, "R")
        assert asked(fixed_db) == [("retry", {"step": "docs"}), ("resume", {})]

    drive(owned_app, scenario)

"""The dashboard's breaker pane: it says which runs wait on each breaker, and `x` (after a
confirm) closes the highlighted one in the store, recorded with who."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tui.app import UetApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.widgets.line_table import LineTable


def _query(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def test_x_on_the_breaker_pane_resets_the_highlighted_breaker_after_a_confirm(
        fixed_app: UetApp, fixed_db: Path) -> None:
    with closing(sqlite3.connect(fixed_db)) as conn, conn:
        conn.execute("UPDATE runs SET waiting_on = 'sim-flaky', waiting_until = ? WHERE id = ?",
                     (stores.NOW + 20, stores.LIVE_RUN))

    async def scenario(pilot: Any) -> None:
        pane = fixed_app.screen.query_one("#breakers", LineTable)
        await settle(pilot, lambda: pane.keys == ["pytest", "ruff", "sim-flaky"])
        assert pane.border_title == "Breakers · sim-flaky holds 3f2a9c81"
        await pilot.press("x")  # the runs pane has focus: nothing is reset
        await pilot.pause()
        assert isinstance(fixed_app.screen, DashboardScreen)
        pane.focus()
        pane.move_to("sim-flaky")
        await pilot.press("x")
        await settle(pilot, lambda: isinstance(fixed_app.screen, ConfirmScreen))
        assert "Reset breaker sim-flaky? It is open" in fixed_app.screen.question
        assert stores.LIVE_RUN in fixed_app.screen.question
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen))
        assert _query(fixed_db, "SELECT state FROM breakers WHERE tool = 'sim-flaky'") == [("open",)]
        await pilot.press("x")
        await settle(pilot, lambda: isinstance(fixed_app.screen, ConfirmScreen))
        await pilot.press("y")
        await settle(pilot, lambda: _query(fixed_db, "SELECT state FROM breakers WHERE tool = 'sim-flaky'")
                     == [("closed",)])
        [(data,)] = _query(fixed_db, "SELECT data FROM events WHERE kind = 'breaker.state' ORDER BY seq DESC LIMIT 1")
        assert json.loads(data)["by"] == fixed_app.user
        await settle(pilot, lambda: str(pane.row("sim-flaky")[1]) == "● closed")
        with closing(sqlite3.connect(fixed_db)) as conn, conn:
            conn.execute("UPDATE runs SET waiting_on = NULL WHERE id = ?", (stores.LIVE_RUN,))
            stores._event(conn, stores.NOW, "run.activity", stores.LIVE_RUN, None, {})
        fixed_app.poke()
        await settle(pilot, lambda: pane.border_title == "Breakers")

    drive(fixed_app, scenario)

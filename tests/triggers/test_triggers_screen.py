"""The dashboard's Triggers screen: ``W`` opens it over a project with two triggers, ``p``
pauses the highlighted trigger (in the store, and the row says so in words) and resumes it;
and how it looks at 80×24."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store import Store
from store import triggers as fires_db
from tui.app import UetApp, make_app
from tui.screens.triggers import TriggersScreen
from tui.widgets.line_table import LineTable

NOW = 1_800_000_000.0


@pytest.fixture
def trigger_root(tmp_path: Path) -> Path:
    folder = tmp_path / "proj" / ".uet" / "workstreams"
    folder.mkdir(parents=True)
    (folder / "nightly.yaml").write_text(
        "name: nightly\non:\n  - name: deps\n    schedule: {cron: '0 2 * * *', timezone: UTC}\n"
        "steps:\n  - id: a\n    run: [echo, hi]\n")
    (folder / "onsave.yaml").write_text(
        "name: onsave\non:\n  - files: {paths: ['src/**/*.py']}\n  - every: 10m\n"
        "steps:\n  - id: a\n    run: [echo, hi]\n")
    root = tmp_path / "proj"
    with Store(root / ".uet" / "uet.db") as store:
        fire = fires_db.record_fire(store, workstream=".uet/workstreams/onsave.yaml", trigger="every", kind="every",
                                    reason="every 10m", due_at=NOW - 300, now=NOW - 300)
        assert fire is not None
        fires_db.set_fire(store, fire, state="done", outcome="skipped")
    return root


def app_for(root: Path) -> UetApp:
    return make_app(root, root / ".uet" / "uet.db", clock=lambda: NOW, live=False)


async def until(pilot: Any, predicate: Callable[[], bool]) -> None:
    for _ in range(500):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError("the screen did not get there")


def rows_read(app: UetApp) -> bool:
    return isinstance(app.screen, TriggersScreen) and len(app.screen.rows) == 3


async def opened(pilot: Any) -> None:
    await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "DashboardScreen")
    await pilot.press("W")
    await until(pilot, lambda: rows_read(pilot.app))
    await pilot.pause()


def test_w_opens_the_triggers_and_p_pauses_and_resumes_the_highlighted_one(trigger_root: Path) -> None:
    app = app_for(trigger_root)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await opened(pilot)
            screen = app.screen
            assert isinstance(screen, TriggersScreen)
            table = screen.query_one("#triggers", LineTable)
            assert table.cursor_key == ".uet/workstreams/nightly.yaml:deps"
            assert [str(c) for c in table.row(".uet/workstreams/nightly.yaml:deps")][:4] == [
                "nightly/deps", "cron 0 2 * * * (UTC)", "schedule", "in 18h00m"]
            assert "no serve engine" in str(screen.query_one("#server").render())

            await pilot.press("p")
            await until(pilot, lambda: screen.rows[".uet/workstreams/nightly.yaml:deps"].paused)
            assert fires_db.is_paused(".uet/workstreams/nightly.yaml", "deps")
            assert str(table.row(".uet/workstreams/nightly.yaml:deps")[3]) == "‖ paused"

            await pilot.press("p")
            await until(pilot, lambda: not screen.rows[".uet/workstreams/nightly.yaml:deps"].paused)
            assert not fires_db.is_paused(".uet/workstreams/nightly.yaml", "deps")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, TriggersScreen))

    asyncio.run(main())


def test_the_triggers_screen_at_80x24(snap_compare: Any, trigger_root: Path) -> None:
    async def move_down(pilot: Any) -> None:
        await opened(pilot)
        await pilot.press("j", "j")
        await pilot.pause()

    assert snap_compare(app_for(trigger_root), terminal_size=(80, 24), run_before=move_down)

"""The dashboard's Tools screen over the fixed store, with a PATH of fake programs: it opens on
``T``, lists the tools with what it knows at once and says it is checking versions until the
programs answer, describes the highlighted tool, looks again on ``r`` and closes on Esc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tui.app import UetApp, make_app
from tui.screens.dashboard import DashboardScreen
from tui.screens.tools import ToolsScreen
from tui.widgets.line_table import LineTable


@pytest.fixture
def fake_path(fixed_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``ruff`` answers once the file ``go`` exists in the project; ``claude`` at once; nothing
    else is on PATH (so python, and with it the pytest tool, is missing)."""
    root = fixed_db.parent.parent
    folder = root / "bin"
    folder.mkdir()
    for name, body in (("ruff", f'while [ ! -e "{root}/go" ]; do /bin/sleep 0.05; done\necho "ruff 0.6.9"\n'),
                       ("claude", 'echo "2.1.197 (Claude Code)"\n')):
        path = folder / name
        path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return root


def app_for(db: Path) -> UetApp:
    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


def text(screen: ToolsScreen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def test_t_opens_the_tools_escape_closes_them(fixed_db: Path, fake_path: Path) -> None:
    app = app_for(fixed_db)

    async def scenario(pilot: Any) -> None:
        await pilot.press("T")
        await settle(pilot, lambda: isinstance(app.screen, ToolsScreen) and bool(app.screen.rows))
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        table = screen.query_one("#tools", LineTable)
        assert "checking versions…" in text(screen, "#status")
        assert str(table.row("ruff")[2]) == "✔ found"  # found at once, its version still coming

        (fake_path / "go").touch()
        await settle(pilot, lambda: not screen.checking)
        assert "checking" not in text(screen, "#status")
        assert str(table.row("ruff")[2]) == "✔ 0.6.9" and str(table.row("claude")[2]) == "✔ 2.1.197"
        assert str(table.row("codex")[2]) == "✘ missing" and str(table.row("sim-flaky")[2]) == "(sim)"
        assert str(table.row("sim-flaky")[4]) == "○ open"  # the fixed store's breaker
        assert "agents not installed: codex, gemini, aider, opencode" in text(screen, "#notes")
        assert "no installed tool can do: test" in text(screen, "#notes")

        table.move_to("codex")
        await pilot.pause()
        assert "install: npm install -g @openai/codex" in text(screen, "#detail")

        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))

    drive(app, scenario)


def test_r_looks_again(fixed_db: Path, fake_path: Path) -> None:
    (fake_path / "go").touch()
    app = app_for(fixed_db)

    async def scenario(pilot: Any) -> None:
        await pilot.press("T")
        await settle(pilot, lambda: isinstance(app.screen, ToolsScreen) and bool(app.screen.rows)
                     and not app.screen.checking)
        screen = app.screen
        assert "fmt" not in screen.rows
        (fake_path / ".uet" / "router.yaml").write_text("tools:\n  fmt:\n    executable: ruff\n", encoding="utf-8")
        await pilot.press("r")
        await settle(pilot, lambda: "fmt" in screen.rows and not screen.checking)
        assert screen.rows["fmt"].source == "project" and screen.rows["fmt"].version == "ruff 0.6.9"
        assert str(screen.query_one("#tools", LineTable).row("fmt")[2]) == "✔ 0.6.9"

    drive(app, scenario)


def test_tools_screen_snapshot(snap_compare: Any, fixed_db: Path, fake_path: Path) -> None:
    (fake_path / "go").touch()

    async def opened(pilot: Any) -> None:
        for _ in range(200):
            screen = pilot.app.screen
            if isinstance(screen, DashboardScreen) and screen.query_one("#runs", LineTable).keys:
                break
            await pilot.pause(0.02)
        await pilot.press("T")
        for _ in range(500):
            screen = pilot.app.screen
            if isinstance(screen, ToolsScreen) and screen.rows and not screen.checking:
                break
            await pilot.pause(0.02)
        await pilot.press("j")  # pytest: its program is missing, so the detail names no temporary path
        await pilot.pause()

    assert snap_compare(app_for(fixed_db), terminal_size=(80, 24), run_before=opened)

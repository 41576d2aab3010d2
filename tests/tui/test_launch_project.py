"""A workstream launched from the dashboard runs in its own project, whichever screen starts it:
bootstrapping another folder and launching its workstream, or typing another project's file in
the launcher, runs it in that folder with that folder's store, and the screen names the project
before anything starts. The dashboard's own store is left alone."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.engine import repos
from tests.tui.test_dashboard import settle
from tui.app import make_app
from tui.screens.bootstrap import BootstrapScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.launch import LaunchScreen
from tui.widgets.line_table import LineTable

pytestmark = pytest.mark.slow

VENV_BIN = os.path.dirname(sys.executable)
FINISHED = ("succeeded", "failed", "canceled")


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated workstream runs ruff and pytest: the ones installed beside this Python."""
    monkeypatch.setenv("PATH", os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")]))
    monkeypatch.delenv("UET_DB", raising=False)


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """The project the dashboard is opened on."""
    root = tmp_path / "here"
    (root / ".uet").mkdir(parents=True)
    return root


def runs_in(db: Path) -> list[tuple[str, str, str, str]]:
    """(id, root, source, state) of every run in the store at ``db``; none while it does not
    exist or is still being created by the process that opened it first."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT id, root, source, state FROM runs").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise


def finished_run(db: Path) -> tuple[str, str, str, str]:
    [run] = wait_for(lambda: runs_in(db), timeout=30, what=f"a run in {db}")
    return wait_for(lambda: next((r for r in runs_in(db) if r[3] in FINISHED), None), timeout=120,
                    what="the run to finish")


def test_bootstrapping_another_folder_launches_its_workstream_in_that_project(here: Path, tmp_path: Path) -> None:
    other = repos.python_package(tmp_path / "inventory")
    app = make_app(here, here / ".uet" / "uet.db")

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.press("B")
            await settle(pilot, lambda: isinstance(app.screen, BootstrapScreen))
            screen = app.screen
            path = screen.query_one("#path")
            path.value = str(other)  # type: ignore[attr-defined]
            path.focus()
            await pilot.press("enter")
            await settle(pilot, lambda: screen.report is not None and not screen.busy, timeout=30)
            await pilot.press("w")
            await settle(pilot, lambda: screen.report is not None and screen.report.written and not screen.busy,
                         timeout=30)
            workstreams = screen.query_one("#workstreams", LineTable)
            await settle(pilot, lambda: screen.focused is workstreams)
            assert workstreams.keys[0] == "quality"
            assert workstreams.border_title == \
                f"Workstreams of {other} (Enter starts them there, in the background)"
            await pilot.press("enter")
            await settle(pilot, lambda: f"starting in {other}" in str(screen.query_one("#status").render()))
            await settle(pilot, lambda: bool(runs_in(other / ".uet" / "uet.db")), timeout=30)

    asyncio.run(main())
    run_id, root, source, state = finished_run(other / ".uet" / "uet.db")
    assert root == str(other) and source == str(other / ".uet" / "workstreams" / "quality.yaml")
    assert state == "succeeded", "ruff and pytest pass on the bootstrapped package, not on the dashboard's folder"
    assert (other / ".uet" / "logs" / run_id).is_dir()
    assert runs_in(here / ".uet" / "uet.db") == []


def test_the_launcher_names_the_project_of_the_file_and_runs_it_there(here: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / ".uet" / "workstreams").mkdir(parents=True)
    file = other / ".uet" / "workstreams" / "where.yaml"
    file.write_text("name: where\nsteps:\n  - id: pwd\n    run: sh -c 'pwd > ran-in.txt'\n", encoding="utf-8")
    app = make_app(here, here / ".uet" / "uet.db")

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.press("L")
            await settle(pilot, lambda: isinstance(app.screen, LaunchScreen))
            launcher = app.screen
            assert str(launcher.query_one("#project").render()) == "project: this dashboard's (here)"
            await pilot.press(*str(file))
            await settle(pilot, lambda: str(launcher.query_one("#project").render()).startswith(
                f"project: {other} — it runs there, in a background engine"))
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await settle(pilot, lambda: bool(runs_in(other / ".uet" / "uet.db")), timeout=30)

    asyncio.run(main())
    run_id, root, _source, state = finished_run(other / ".uet" / "uet.db")
    assert (root, state) == (str(other), "succeeded")
    assert (other / "ran-in.txt").read_text(encoding="utf-8").strip() == str(other)
    assert runs_in(here / ".uet" / "uet.db") == []

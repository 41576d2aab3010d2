"""The dashboard against real runs: one executed by `uet run` in another process shows up and
moves without a key press; one launched from the app runs in-process, and quitting hands it
over to a background engine that finishes it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, wait_for
from tests.tui.test_dashboard import settle
from tui.app import make_app
from tui.screens.dashboard import DashboardScreen
from tui.screens.launch import LaunchScreen
from tui.screens.quit import QuitScreen
from tui.screens.text import TextScreen
from tui.widgets.line_table import LineTable

pytestmark = pytest.mark.slow

GATED = """
    name: gated
    steps:
      - id: first
        run: "true"
      - id: wait
        needs: [first]
        run: sh -c 'while [ ! -e go ]; do sleep 0.05; done'
      - id: last
        needs: [wait]
        run: "true"
"""


def test_a_run_in_another_process_appears_and_completes_live(project: Project) -> None:
    workstream = project.write("ws.yaml", GATED)
    app = make_app(project.root, project.db)
    engine = project.spawn("run", "--plain", str(workstream))

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            dashboard = app.screen
            try:
                await settle(pilot, lambda: len(dashboard.runs) == 1, timeout=30)
                [run_id] = dashboard.runs
                await settle(pilot, lambda: dashboard.selected == run_id and len(dashboard.steps) == 3, timeout=30)
                await settle(pilot, lambda: dashboard.steps["wait"].state == "running", timeout=30)
                row = dashboard.query_one("#runs", LineTable).row(run_id)
                assert row is not None and str(row[0]) == "▶ running"
                (project.root / "go").touch()
                await settle(pilot, lambda: dashboard.runs[run_id].state.value == "succeeded", timeout=30)
                await settle(pilot, lambda: {s.state for s in dashboard.steps.values()} == {"succeeded"}, timeout=30)
                assert str(dashboard.query_one("#runs", LineTable).row(run_id)[0]) == "✔ succeeded"
                assert any("run running → succeeded" in line.plain for line in dashboard.query_one("#events").kept)
            finally:
                engine.communicate(timeout=30)

    asyncio.run(main())
    assert engine.returncode == 0


def test_launch_here_then_quit_hands_the_run_over(project: Project) -> None:
    (project.root / ".uet" / "workstreams").mkdir()
    project.write(".uet/workstreams/gated.yaml", GATED)
    app = make_app(project.root, project.db)
    outcome: dict[str, Any] = {}

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.press("L")
            await settle(pilot, lambda: isinstance(app.screen, LaunchScreen))
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen) and bool(app.host.active), timeout=20)
            [run_id] = app.host.active
            outcome["run"] = run_id
            await settle(pilot, lambda: app.screen.steps.get("wait") is not None
                         and app.screen.steps["wait"].state == "running", timeout=30)
            await pilot.press("q")
            await settle(pilot, lambda: isinstance(app.screen, QuitScreen))
            await pilot.press("d")
            # Handing over waits for running steps: let the waiting step finish.
            await pilot.pause(0.3)
            (project.root / "go").touch()
            await settle(pilot, lambda: app.return_code is not None, timeout=30)
            outcome["message"] = "\n".join(str(r) for r in app._exit_renderables)

    asyncio.run(main())
    run_id = outcome["run"]
    try:
        wait_for(lambda: project.status(run_id)["state"] == "succeeded", timeout=30, what="the background engine")
    except AssertionError:
        print(project.uet("logs", run_id).stdout)
        raise
    steps = {s["id"]: s for s in project.status(run_id)["steps"]}
    assert steps["last"]["state"] == "succeeded" and steps["wait"]["attempts"] == 1, "nothing ran twice"
    events = project.uet("logs", run_id).stdout
    assert "handed over to a background engine" in events
    assert f"run {run_id} goes on in the background" in outcome["message"]


def test_launch_refuses_an_invalid_workstream_without_writing(project: Project, tmp_path: Path) -> None:
    bad = project.write("bad.yaml", "name: bad\nsteps:\n  - id: a\n    needs: [nowhere]\n    run: 'true'\n")
    app = make_app(project.root, project.db)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            assert app.start_run(bad, detached=False) is None
            await pilot.pause(0.2)
            problems = app.screen
            assert isinstance(problems, TextScreen), "the problems stay on a screen of their own"
            assert "1 problem(s)" in problems.summary and "nowhere" in problems.text
            await pilot.press("escape")
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
            assert not app.host.active and not app.screen.runs

    asyncio.run(main())

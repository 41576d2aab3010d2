"""A run whose engine died, on the dashboard: the runs table and the selected run's title say
"engine lost N s ago · R resume", its clock stops, the run screen says it too; a run whose
engine dies while the dashboard watches turns lost though nothing is written, and R resumes it."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engine.monitor import Delta
from engine.planner import plan_file
from engine.session import create_run
from engine.workers import HOST
from store import Store, ops
from tests.conftest import Project
from tests.tui import stores
from tests.tui.test_dashboard import drive, runs_table, settle
from tui.app import make_app
from tui.feed import StoreChanged
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import RunScreen
from tui.widgets.line_table import LineTable


def exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_a_lost_engine_is_named_with_the_resume_key_and_its_clock_stops(fixed_db: Path) -> None:
    with sqlite3.connect(fixed_db) as conn:
        conn.execute("UPDATE workers SET pid = ?, heartbeat_at = ? WHERE id = ?",
                     (exited_pid(), stores.NOW - 42, stores.LIVE_WORKER))
    clock = [stores.NOW]
    app = make_app(fixed_db.parent.parent, fixed_db, clock=lambda: clock[0], live=False)

    async def scenario(pilot: Any) -> None:
        dashboard = app.screen
        row = runs_table(app).row(stores.LIVE_RUN)
        assert row is not None and str(row[0]) == "☠ lost 42s"
        assert row[6] == "4m18s" and row[7] == "-"  # started 300 s before NOW, last heard of 42 s before
        await settle(pilot, lambda: dashboard.selected == stores.LIVE_RUN and len(dashboard.steps) == 8)
        title = str(dashboard.query_one("#views").border_title)
        assert "☠ engine lost 42s ago · R resume" in title

        clock[0] += 60  # a quiet tick of the feed a minute later
        dashboard.post_message(StoreChanged(Delta()))
        await settle(pilot, lambda: "☠ engine lost 1m42s ago · R resume" in str(
            dashboard.query_one("#views").border_title))
        assert str(runs_table(app).row(stores.LIVE_RUN)[0]) == "☠ lost 1m"
        assert runs_table(app).row(stores.LIVE_RUN)[6] == "4m18s"  # stopped, not ticking

        await pilot.press("slash", *"lost", "enter")  # the runs whose engine is lost, by that word
        assert runs_table(app).keys == [stores.LIVE_RUN]
        await pilot.press("o")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
        summary = str(app.screen.query_one("#summary").render())
        assert "☠ engine lost 1m42s ago · R resume" in summary and "elapsed 4m18s" in summary
        assert "running" not in summary.split("quality")[0]
        # Its running step stopped with its engine: 60 s before NOW it started, 42 s before it was last heard of.
        steps = app.screen.query_one("#steps", LineTable)
        assert steps.row("test-unit")[5] == "18s"  # RAN, in five cells

    drive(app, scenario)


def test_a_live_engine_reads_as_running(fixed_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        await settle(pilot, lambda: len(fixed_app.screen.steps) == 8)
        assert str(runs_table(fixed_app).row(stores.LIVE_RUN)[0]) == "▶ running"
        assert "lost" not in str(fixed_app.screen.query_one("#views").border_title)

    drive(fixed_app, scenario)


@pytest.mark.slow
def test_an_engine_that_dies_silently_turns_lost_and_R_resumes_its_run(project: Project) -> None:
    workstream = project.write("ws.yaml", """
        name: orphaned
        steps:
          - id: only
            run: "true"
    """)
    engine = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    with Store(project.db) as store:
        run_id = create_run(store, plan_file(workstream))
        store.register_worker("doomed-worker", engine.pid, HOST)
        store.claim_run(run_id, "doomed-worker", lambda _w: True)
        store.execute_now([ops.run_state(run_id, "running", started_at=time.time())])
    app = make_app(project.root, project.db)

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen) and run_id in app.screen.runs)
            dashboard = app.screen
            assert str(runs_table(app).row(run_id)[0]) == "▶ running"
            engine.communicate(b"", timeout=30)  # the engine is gone; nothing was written
            await settle(pilot, lambda: str(runs_table(app).row(run_id)[0]).startswith("☠ lost"), timeout=30)
            await settle(pilot, lambda: "engine lost" in str(dashboard.query_one("#views").border_title))
            await pilot.press("R")
            await settle(pilot, lambda: dashboard.runs[run_id].state.value == "succeeded", timeout=60)
            await settle(pilot, lambda: str(runs_table(app).row(run_id)[0]) == "✔ succeeded")
            assert "lost" not in str(dashboard.query_one("#views").border_title)

    try:
        asyncio.run(main())
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.communicate(timeout=30)

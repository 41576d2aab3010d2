"""The run screen's output pane and the live cost, through Pilot over the fixed store.

The output pane (``o``) shows what the highlighted step answered: the latest of its attempts
that has an output, cut to its first lines, with the attempt it is from and its prompt file.
The cost cells grow with the usage the agents at work report in their ``step.output`` events,
and the figure recorded at an attempt's end replaces its live one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from store import ops
from store.writer import EVENT_SQL
from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tests.tui.test_dashboard_snapshots import app_for, loaded
from tui.app import UetApp, make_app
from tui.screens.run import RunScreen
from tui.widgets.line_table import LineTable
from tui.widgets.step_output import MAX_LINES

ANSWER = "Fixed the lint errors in src/app.py.\nRan ruff: clean."


def give_output(db: Path, step_id: str, number: int, text: str, prompt: bool = True) -> str:
    """Give an attempt of the live run an output and a log path under the run's root (the
    database's project), with its prompt file beside the log; returns the prompt's path from
    the root."""
    root = db.parent.parent
    relative = f".uet/logs/{stores.LIVE_RUN}/{step_id}.{number}.prompt.md"
    if prompt:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("Fix the lint errors.\n")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET root = ? WHERE id = ?", (str(root), stores.LIVE_RUN))
        conn.execute("UPDATE attempts SET output = ?, log_path = ? WHERE run_id = ? AND step_id = ? AND number = ?",
                     (text, str(root / f".uet/logs/{stores.LIVE_RUN}/{step_id}.{number}.log"), stores.LIVE_RUN,
                      step_id, number))
    return relative


async def open_step(pilot: Any, step_id: str) -> RunScreen:
    """Open the live run from the dashboard and move to ``step_id``."""
    app = pilot.app
    await settle(pilot, lambda: len(app.screen.steps) == 8)
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, RunScreen)
                 and len(app.screen.query_one("#steps", LineTable).keys) == 8)
    screen = app.screen
    steps = screen.query_one("#steps", LineTable)
    while steps.cursor_key != step_id:
        await pilot.press("j")
    await settle(pilot, lambda: screen.step_id == step_id and screen.query_one("#output").shown is not None
                 and screen.query_one("#output").shown.step_id == step_id)
    return screen


def output_text(screen: RunScreen) -> str:
    return screen.query_one("#output-text").text


def about(screen: RunScreen) -> str:
    return str(screen.query_one("#output-about").render())


def test_a_step_shows_its_latest_output_with_its_attempt_and_prompt(fixed_db: Path) -> None:
    prompt = give_output(fixed_db, "fix", 2, ANSWER)
    app = app_for(fixed_db)

    async def scenario(pilot: Any) -> None:
        screen = await open_step(pilot, "fix")
        assert not screen.query_one("#output").display and screen.query_one("#log").display
        assert "o: output" in str(screen.query_one("#log").border_subtitle)
        await pilot.press("o")
        await pilot.pause()
        assert screen.query_one("#output").display and not screen.query_one("#log").display
        assert not screen.query_one("#attempts").display  # 80 columns: the output takes the side's width
        assert output_text(screen) == ANSWER
        assert about(screen) == f"from attempt 2 of 2 · ✔ succeeded · sim\nprompt {prompt}"
        assert screen.query_one("#output").border_title == "Output · fix"
        # Keyboard reachable: Tab goes from the steps to the text, which scrolls; o goes back.
        await pilot.press("tab")
        assert screen.focused is screen.query_one("#output-text")
        await pilot.press("o")
        await pilot.pause()
        assert screen.query_one("#log").display and screen.query_one("#attempts").display
        assert screen.focused is screen.query_one("#steps")
        await pilot.press("o", "k", "k")  # lint: no attempt of it has an output
        await settle(pilot, lambda: screen.query_one("#output").shown.step_id == "lint")
        assert output_text(screen) == "" and about(screen) == "no output from 1 attempt(s)"
        assert "o: output" not in str(screen.query_one("#log").border_subtitle or "")

    drive(app, scenario)


def test_an_earlier_attempt_s_output_says_whose_it_is(fixed_db: Path) -> None:
    """The latest attempt gave no output (it failed, or runs): the one before it is shown, and
    the label says so."""
    give_output(fixed_db, "test-integration", 1, "1 failed, 40 passed", prompt=False)
    app = app_for(fixed_db)

    async def scenario(pilot: Any) -> None:
        screen = await open_step(pilot, "test-integration")
        await pilot.press("o")
        assert output_text(screen) == "1 failed, 40 passed"
        assert about(screen) == "from attempt 1 of 2 · ✘ failed · pytest (attempt 2 failed, no output of its own)"

    drive(app, scenario)


def test_a_long_output_is_cut_and_says_how_much_is_left(fixed_db: Path) -> None:
    lines = [f"line {n}" for n in range(1, MAX_LINES + 501)]
    give_output(fixed_db, "fix", 2, "\n".join(lines))
    app = app_for(fixed_db)

    async def scenario(pilot: Any) -> None:
        screen = await open_step(pilot, "fix")
        await pilot.press("o")
        shown = output_text(screen).split("\n")
        assert shown[:MAX_LINES] == lines[:MAX_LINES]
        assert shown[MAX_LINES:] == ["", f"… 500 more lines; uet status {stores.LIVE_RUN} fix shows it whole"]

    drive(app, scenario)


def record(app: UetApp, *statements: Any) -> None:
    """Write through the app's store with the engine's own statements, then wake the feed as
    the change feed does when another process writes."""
    store = app.open_store()
    store.submit(statements)
    store.sync()
    app.poke()


def usage(usd: float, tokens_in: int, tokens_out: int) -> tuple:
    return ops.insert_event(stores.NOW, "step.output", stores.LIVE_RUN, "test-unit",
                            {"attempt": 1, "chars": 100, "line": "assistant: working", "tokens_in": tokens_in,
                             "tokens_out": tokens_out, "usd": usd})


def test_the_cost_grows_with_an_agent_s_usage_and_its_end_replaces_it(fixed_app: UetApp) -> None:
    """test-unit's attempt 1 is running; the run has $0.42 recorded (and attempts without a
    price, the ``+?``)."""
    async def scenario(pilot: Any) -> None:
        dashboard = fixed_app.screen
        screen = await open_step(pilot, "test-unit")

        def figures() -> tuple[str, str, str]:
            run_row = dashboard.query_one("#runs", LineTable).row(stores.LIVE_RUN)
            step_row = screen.query_one("#steps", LineTable).row("test-unit")
            summary = str(screen.query_one("#summary").render())
            return str(run_row[8]), summary.split("cost ")[1].split()[0], str(step_row[7])

        assert figures() == ("$0.42+?", "$0.42+?", "-")
        record(fixed_app, usage(0.05, 3000, 200))
        await settle(pilot, lambda: figures() == ("$0.47+?", "$0.47+?", "$0.05"))
        record(fixed_app, usage(0.12, 9000, 700))  # totals so far, not increments
        await settle(pilot, lambda: figures() == ("$0.54+?", "$0.54+?", "$0.12"))
        # The attempt ends: its row (with what it cost in all) and the step's move commit together.
        started = stores.NOW - 60
        step = ("UPDATE steps SET state = ?, exit_code = ?, ended_at = ? WHERE run_id = ? AND id = ?",
                ("succeeded", 0, stores.NOW, stores.LIVE_RUN, "test-unit"))
        record(fixed_app, step,
               ops.attempt_row(stores.LIVE_RUN, "test-unit", 1, "pytest", "succeeded", None, started, stores.NOW, 0,
                               tokens_in=9500, tokens_out=800, usd=0.13, model="sim-1", duration=60.0),
               (EVENT_SQL, (stores.NOW, stores.LIVE_RUN, "test-unit", "step.state",
                            '{"from":"running","to":"succeeded","attempt":1,"exit_code":0,"duration":60.0}')))
        await settle(pilot, lambda: figures() == ("$0.55+?", "$0.55+?", "$0.13"))
        assert not screen.live.running and not screen.live.ending
        assert not dashboard.live.running and not dashboard.live.ending

    drive(fixed_app, scenario)


def test_usage_of_a_run_opened_later_is_carried_over(fixed_app: UetApp) -> None:
    """The run screen starts from the dashboard's live figures, not from nothing until the
    agent's next event."""
    async def scenario(pilot: Any) -> None:
        dashboard = fixed_app.screen
        await settle(pilot, lambda: len(dashboard.steps) == 8)
        record(fixed_app, usage(0.05, 3000, 200))
        await settle(pilot, lambda: str(dashboard.query_one("#runs", LineTable).row(stores.LIVE_RUN)[8]) == "$0.47+?")
        screen = await open_step(pilot, "test-unit")
        await settle(pilot, lambda: str(screen.query_one("#steps", LineTable).row("test-unit")[7]) == "$0.05")

    drive(fixed_app, scenario)


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24")])
def test_run_screen_output(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    give_output(fixed_db, "fix", 2, "Fixed the two lint errors in src/app.py:\n\n- an unused import (os)\n"
                                    "- a line longer than 120 characters, which is now split over two lines at the "
                                    "argument list so that it reads well\n\nRan `ruff check src`: clean.\n")

    async def opened(pilot: Any) -> None:
        await loaded(pilot)
        await open_step(pilot, "fix")
        await pilot.press("o")
        await pilot.pause()

    assert snap_compare(make_app(fixed_db.parent.parent, fixed_db, clock=lambda: stores.NOW, live=False),
                        terminal_size=size, run_before=opened)

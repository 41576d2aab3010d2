"""The run screen at scale, through Pilot over a store of a 1,001-step run: filter by id and by
state and clear it, next and previous failed step (wrapping, and saying when there is none),
sorting by time running, and the RAN and QUEUED columns in place of one TOOK.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from store import Store
from tests.tui import stores
from tests.tui.test_dashboard import settle
from tui.app import make_app
from tui.format import short
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import RunScreen
from tui.step_filter import FilterError, parse, queued, ran
from tui.widgets.line_table import LineTable

RUN = "w1de00000001"
STEPS = 1_001
#: Steps 0, 97, 194, … failed: 11 of them, the first the run's very first step.
FAILED_EVERY = 97
#: Every step ran for STEP_SECONDS after waiting QUEUE_SECONDS from the run's start.
STEP_SECONDS = 3.0
QUEUE_SECONDS = 2.0
STARTED = stores.NOW - 600


def step_id(i: int) -> str:
    return f"lint-{i:04d}" if i % 10 == 3 else f"build-{i:04d}"


def state_of(i: int) -> str:
    if i % FAILED_EVERY == 0:
        return "failed"
    if i >= 990:
        return "canceled"
    return "succeeded"


def wide_run(db: Path, logs: Path) -> Path:
    """A failed run of STEPS steps, none needing another, each with one attempt (two for the
    failed ones: a retry 5 s after the first failed) and a log."""
    Store(db).close()
    logs.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        failed = sum(state_of(i) == "failed" for i in range(STEPS))
        done = STEPS
        stores._run(conn, RUN, "wide", "failed", STEPS, done, failed, STARTED - 1, STARTED, stores.NOW - 60,
                    f"{failed} step(s) failed")
        for i in range(STEPS):
            state = state_of(i)
            ran_ = state != "canceled"
            # Step 500 ran longest: 100 s.
            took = 100.0 if i == 500 else STEP_SECONDS
            start = STARTED + QUEUE_SECONDS
            attempts = [(start, start + took)]
            if state == "failed":
                attempts.append((start + took + 5, start + took + 5 + took))
            stores._step(conn, RUN, i, step_id(i), [], state, "sh", len(attempts) if ran_ else 0,
                         (1 if state == "failed" else 0) if ran_ else None,
                         attempts[0][0] if ran_ else None, attempts[-1][1] if ran_ else None)
            if not ran_:
                continue
            for number, (begin, end) in enumerate(attempts, 1):
                log = logs / f"{step_id(i)}.{number}.log"
                log.write_text(f"{step_id(i)} attempt {number}\n")
                conn.execute(
                    "INSERT INTO attempts (run_id, step_id, number, tool, state, started_at, ended_at, exit_code, "
                    "log_path, duration) VALUES (?, ?, ?, 'sh', ?, ?, ?, ?, ?, ?)",
                    (RUN, step_id(i), number, state if number == len(attempts) else "failed", begin, end,
                     1 if state == "failed" else 0, str(log), end - begin))
    return db


@pytest.fixture(scope="module")
def wide_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wide")
    (root / ".uet").mkdir()
    return wide_run(root / ".uet" / "uet.db", root / ".uet" / "logs" / RUN)


def app_for(db: Path):  # noqa: ANN201
    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


async def open_run(pilot: Any) -> RunScreen:
    """The run screen of the wide run, its steps and their attempts read."""
    app = pilot.app
    await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
    screen = RunScreen(RUN)
    await app.push_screen(screen)
    await settle(pilot, lambda: len(screen.query_one("#steps", LineTable).keys) == STEPS and len(screen.spans) > 900)
    await pilot.pause()
    return screen


def drive(db: Path, scenario: Callable[[Any], Awaitable[None]], size: tuple[int, int] = (80, 24)) -> None:
    async def main() -> None:
        async with app_for(db).run_test(size=size) as pilot:
            await scenario(pilot)

    asyncio.run(main())


def table(screen: RunScreen) -> LineTable:
    return screen.query_one("#steps", LineTable)


async def retype(pilot: Any, screen: RunScreen, text: str) -> None:
    """``/``, the filter line's text replaced by ``text`` at once (typing it key by key is what
    the first filter of a test does), and Enter."""
    await pilot.press("slash")
    screen.query_one("#query", Input).value = text
    await pilot.press("enter")


def filter_line(screen: RunScreen) -> str:
    return str(screen.query_one("#filter").render())


FAILED = [step_id(i) for i in range(STEPS) if state_of(i) == "failed"]


def test_a_filter_by_state_by_id_and_by_part_of_an_id_and_esc_clears_it(wide_db: Path) -> None:
    async def scenario(pilot: Any) -> None:
        screen = await open_run(pilot)
        await pilot.press("slash", *"failed")
        await pilot.pause()
        assert table(screen).keys == FAILED
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one("#filter").display
        assert filter_line(screen).strip() == "11 of 1,001 steps · filter: failed · Esc clears"
        assert table(screen).border_title == "Steps 11 of 1,001"
        assert screen.focused is table(screen)

        await retype(pilot, screen, "id:lint-00*")
        await pilot.pause()
        assert table(screen).keys == ["lint-0003", "lint-0013", "lint-0023", "lint-0033", "lint-0043", "lint-0053",
                                      "lint-0063", "lint-0073", "lint-0083", "lint-0093"]
        await retype(pilot, screen, "0500")
        await pilot.pause()
        assert table(screen).keys == ["build-0500"]
        await retype(pilot, screen, "lint state:failed")
        await pilot.pause()
        assert table(screen).keys == [k for k in FAILED if k.startswith("lint")] == ["lint-0873"]

        await pilot.press("escape")
        await pilot.pause()
        assert len(table(screen).keys) == STEPS and not screen.query_one("#filter").display
        assert table(screen).border_title == "Steps (1,001)"
        assert isinstance(pilot.app.screen, RunScreen)  # Esc cleared the filter; the next one goes back
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, DashboardScreen)

    drive(wide_db, scenario)


def test_next_failed_wraps_goes_back_and_says_when_there_is_none(wide_db: Path) -> None:
    async def scenario(pilot: Any) -> None:
        screen = await open_run(pilot)
        steps = table(screen)
        assert steps.cursor_key == "build-0000"
        await pilot.press("n")
        assert steps.cursor_key == "build-0097"
        await pilot.press("n", "n")
        assert steps.cursor_key == "build-0291"
        await pilot.press("N", "N", "N")
        assert steps.cursor_key == "build-0000"
        await pilot.press("N")  # wraps to the last
        assert steps.cursor_key == "build-0970"
        await pilot.press("n")  # and round to the first
        assert steps.cursor_key == "build-0000"
        assert any("wrapped" in n.message for n in pilot.app._notifications)
        await pilot.press("right_square_bracket", "f")  # ]f and [f: as n and N, f following the log no more
        assert steps.cursor_key == "build-0097" and screen.follow
        await pilot.press("left_square_bracket", "f")
        assert steps.cursor_key == "build-0000" and screen.follow
        await pilot.press("f")
        assert not screen.follow

        await retype(pilot, screen, "canceled")
        await pilot.pause()
        before = steps.cursor_key
        await pilot.press("n")
        assert steps.cursor_key == before
        assert any(n.message == "no failed step among those the filter shows" for n in pilot.app._notifications)

    drive(wide_db, scenario)


def test_ran_and_queued_columns_and_s_sorting_by_time_running_then_by_state(wide_db: Path) -> None:
    async def scenario(pilot: Any) -> None:
        screen = await open_run(pilot)
        steps = table(screen)
        # build-0097 failed twice: 3 s + 3 s running; queued 2 s before its first try and 5 s between.
        assert [c.title for c in steps.columns][5:7] == ["RAN", "QUEUED"]
        assert [str(c) for c in steps.row("build-0097")[5:7]] == ["6.0s", "7.0s"]
        assert [str(c) for c in steps.row("build-0001")[5:7]] == ["3.0s", "2.0s"]
        assert [str(c) for c in steps.row("build-0995")[5:7]] == ["-", "-"]

        await pilot.press("s")
        await pilot.pause()
        assert steps.border_title == "Steps (1,001) · longest first"
        assert steps.keys[0] == "build-0500"  # 100 s
        assert steps.keys[1:12] == FAILED  # two attempts of 3 s
        await pilot.press("s")
        await pilot.pause()
        assert steps.border_title == "Steps (1,001) · state"
        assert steps.keys[:11] == FAILED and steps.keys[-1] == "build-0989"
        await pilot.press("s")
        await pilot.pause()
        assert steps.border_title == "Steps (1,001)" and steps.keys[:2] == ["build-0000", "build-0001"]

    drive(wide_db, scenario)


def test_filters_read_states_patterns_and_words() -> None:
    keep = parse("state:failed,retrying id:lint* test")
    assert keep.states == {"failed", "retrying"} and keep.patterns == ("lint*",) and keep.words == ("test",)
    assert parse("FAILED").states == {"failed"}
    assert parse("id:lint").patterns == ("*lint*",)
    assert not parse("  ")
    with pytest.raises(FilterError, match="no step state 'broken'"):
        parse("state:broken")


def test_times_add_attempts_and_the_waits_between_them() -> None:
    spans = [(10.0, 13.0), (18.0, 21.0)]
    assert ran(spans, 100.0) == 6.0
    assert ran([(10.0, None)], 15.0) == 5.0
    assert ran([], 15.0) is None
    assert queued(8.0, spans, 100.0) == 7.0
    assert queued(8.0, [(10.0, 13.0)], 20.0, waiting=True) == 9.0  # 2 s before, 7 s since it failed
    assert queued(8.0, [], 20.0) == 12.0
    assert queued(None, spans, 100.0) is None
    assert [short(s) for s in (0.42, 42.0, 545.0, 2_520.0, 18_420.0, 43_200.0, 259_200.0)] == \
        ["0.4s", "42s", "9m05s", "42m", "5h07m", "12h", "3d"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_filtered_run_screen(snap_compare: Any, wide_db: Path, size: tuple[int, int]) -> None:
    async def filtered(pilot: Any) -> None:
        await open_run(pilot)
        await pilot.press("slash", *"failed", "enter")
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app_for(wide_db), terminal_size=size, run_before=filtered)

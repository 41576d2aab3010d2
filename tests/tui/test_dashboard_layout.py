"""The dashboard at 80x24 with many runs: the runs pane sized to its rows and saying how many
more it holds, START in local time, the state filter (s), the typed filter (/), old finished
runs hidden until a shows them, and ? Help and q Quit first in the footer. Snapshots with one
run and with forty, at 80x24 and 120x40."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tui.app import make_app
from tui.run_filter import RunFilter, started_cell
from tui.screens.dashboard import DashboardScreen
from tui.widgets.line_table import LineTable

DAY = 86_400.0
#: Forty runs: the fixed store's five, twenty finished today and fifteen finished 8 to 22 days ago.
RECENT, OLD = 20, 15
STATES = ("succeeded", "failed", "canceled", "succeeded")


def forty(db: Path) -> Path:
    stores.small(db)
    with sqlite3.connect(db) as conn:
        for n in range(RECENT):
            created = stores.NOW - 4 * 3600 - n * 60
            stores._run(conn, f"b{n:03d}0000000", f"batch-{n % 3}", STATES[n % 4], 4, 4, 0, created, created + 1,
                        created + 30)
        for n in range(OLD):
            created = stores.NOW - (8 + n) * DAY
            stores._run(conn, f"o{n:03d}0000000", "weekly", STATES[n % 4], 4, 4, 0, created, created + 1,
                        created + 30)
    return db


def one(db: Path) -> Path:
    from store import Store

    Store(db).close()
    with sqlite3.connect(db) as conn:
        created = stores.NOW - 600
        stores._run(conn, "5b01c4e2a7d3", "quality", "succeeded", 3, 3, 0, created, created + 1, created + 95)
        for i, step in enumerate(("lint", "test", "review")):
            stores._step(conn, "5b01c4e2a7d3", i, step, [] if i == 0 else [("lint", "test")[i - 1]], "succeeded",
                         "sh", 1, 0, created + 1 + i, created + 2 + i)
    return db


@pytest.fixture(scope="module")
def forty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forty")
    (root / ".uet").mkdir()
    return forty(root / ".uet" / "uet.db")


@pytest.fixture(scope="module")
def one_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("one")
    (root / ".uet").mkdir()
    return one(root / ".uet" / "uet.db")


def app_for(db: Path):  # noqa: ANN201
    return make_app(db.parent.parent, db, clock=lambda: stores.NOW, live=False)


def test_start_reads_as_a_time_today_and_a_date_before() -> None:
    assert started_cell(stores.NOW - 3600, stores.NOW) == "19:26"  # NOW is 20:26:40 UTC
    assert started_cell(stores.NOW - 9 * DAY, stores.NOW) == "May 19"


def test_the_runs_table_leaves_out_eta_elapsed_and_steps_before_cost() -> None:
    from tui.screens.dashboard import RUN_COLUMNS

    table = LineTable(RUN_COLUMNS)
    shown = {width: [c.title for c, w in zip(RUN_COLUMNS, table._widths(width), strict=True) if w]
             for width in (118, 78, 70, 60)}
    assert shown[118] == [c.title for c in RUN_COLUMNS]  # 120 columns: everything
    assert shown[78] == ["STATE", "RUN", "START", "WORKSTREAM", "PROGRESS", "STEPS", "ELAPSED", "COST"]
    assert shown[70] == ["STATE", "RUN", "START", "WORKSTREAM", "PROGRESS", "STEPS", "COST"]
    assert shown[60] == ["STATE", "RUN", "START", "WORKSTREAM", "PROGRESS", "COST"]


def test_a_typed_filter_it_cannot_read_names_the_word() -> None:
    with pytest.raises(ValueError, match="since:soon"):
        RunFilter.parse("since:soon", stores.NOW)
    with pytest.raises(ValueError, match="state:bogus"):
        RunFilter.parse("state:bogus", stores.NOW)
    parsed = RunFilter.parse("ws:batch state:fail since:2d fix", stores.NOW)
    assert (parsed.workstream, parsed.state, parsed.since, parsed.words) == ("batch", "failed", stores.NOW - 2 * DAY,
                                                                            ("fix",))


def test_forty_runs_at_80x24_filters_age_and_overflow(forty_db: Path) -> None:
    app = app_for(forty_db)

    async def scenario(pilot: Any) -> None:
        runs = app.screen.query_one("#runs", LineTable)
        await settle(pilot, lambda: len(runs.keys) == 5 + RECENT)
        await pilot.pause()
        # Old finished runs are hidden, and the title says so; the pane is capped and says what is below.
        assert not any(key.startswith("o") for key in runs.keys)
        assert f"{OLD} older hidden (a shows)" in str(runs.border_title)
        assert runs.outer_size.height == 9
        assert str(runs.border_subtitle) == f"… {5 + RECENT - 6} more"
        assert runs.row(stores.LIVE_RUN)[2] == "20:21"
        # At 80 columns ETA, not COST, gives way: the row keeps state, id, start, workstream,
        # progress and cost.
        header = "".join(segment.text for segment in runs.render_line(0))
        assert [title[:5] for title in header.split()] == ["STATE", "RUN", "START", "WORKS", "PROGR", "STEPS",
                                                           "ELAPS", "COST"]
        # The selected run's DAG is taller than its pane: the pane's foot says how much follows.
        views = app.screen.query_one("#views")
        await settle(pilot, lambda: len(app.screen.steps) == 8 and "more ↓" in str(views.border_subtitle))
        assert str(views.border_subtitle).endswith(" · … 2 more ↓")
        # The footer leads with the two keys a newcomer needs.
        keys = [key.key for key in app.screen.query("FooterKey")]
        assert keys[:2] == ["question_mark", "q"]
        await pilot.press("a")
        await settle(pilot, lambda: len(runs.keys) == 5 + RECENT + OLD)
        assert "older shown (a hides)" in str(runs.border_title)
        assert runs.row("o0000000000")[2] == "May 20"
        await pilot.press("a", "s")  # state filter: the runs not finished
        await settle(pilot, lambda: "state: active" in str(runs.border_title))
        assert set(runs.keys) == {stores.LIVE_RUN, "c4d2aa019f3e"}
        assert runs.outer_size.height == 5 and not runs.border_subtitle  # two rows: the pane shrinks
        await pilot.press("s", "s")
        await settle(pilot, lambda: "state: failed" in str(runs.border_title))
        assert len(runs.keys) == 1 + RECENT // 4  # 77f0b9d21c08 and every fourth batch
        await pilot.press("escape")
        await settle(pilot, lambda: "state:" not in str(runs.border_title))
        await pilot.press("slash", *"ws:batch-1 state:succ", "enter")
        await settle(pilot, lambda: "/ws:batch-1 state:succ" in str(runs.border_title))
        assert runs.keys == ["b0040000000", "b0070000000", "b0160000000", "b0190000000"]  # batch-1, succeeded
        await pilot.press("slash", *" since:nope", "enter")  # refused: the filter stays as it was
        await settle(pilot, lambda: app.screen.query_one("#filter").display is False)
        assert "/ws:batch-1 state:succ" in str(runs.border_title)

    drive(app, scenario)


def test_the_runs_title_counts_the_store_not_the_runs_loaded(forty_db: Path) -> None:
    """The app loads the newest runs only (1,000; here 10): the total and the older hidden in the
    runs pane's title are the store's, for every run and for a state filter."""
    app = app_for(forty_db)
    app.monitor.runs_shown = 10  # the 5 of the fixed store and 5 of today's batch: none of them old

    async def scenario(pilot: Any) -> None:
        runs = app.screen.query_one("#runs", LineTable)
        await settle(pilot, lambda: len(runs.keys) == 10 and "older hidden" in str(runs.border_title))
        assert str(runs.border_title) == f"Runs 10 of 40 · {OLD} older hidden (a shows)"
        await pilot.press("s", "s", "s")  # active, running, failed
        await settle(pilot, lambda: "state: failed" in str(runs.border_title))
        # Two failed runs loaded; of the fifteen old ones every fourth from the second failed.
        assert str(runs.border_title) == f"Runs 2 of 40 · state: failed · {len(range(1, OLD, 4))} older hidden (a shows)"
        await pilot.press("slash", *"ws:weekly", "enter")  # typed words match the loaded runs only
        await settle(pilot, lambda: "/ws:weekly" in str(runs.border_title))
        assert str(runs.border_title) == "Runs 0 of 40 · state: failed · /ws:weekly · older not counted (a shows)"

    drive(app, scenario)


def test_one_run_leaves_the_room_to_the_run_and_the_events(one_db: Path) -> None:
    app = app_for(one_db)

    async def scenario(pilot: Any) -> None:
        await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
        runs = app.screen.query_one("#runs", LineTable)
        await settle(pilot, lambda: runs.keys == ["5b01c4e2a7d3"])
        await pilot.pause()
        assert runs.outer_size.height == 4 and not runs.border_subtitle
        events = app.screen.query_one("#events")
        assert events.outer_size.height >= 7
        # A notification sits at the top right, over the runs' last columns, not over the events.
        app.notify("run 5b01c4e2 started here", title="Launched")
        await settle(pilot, lambda: bool(app.screen.query("Toast")))
        await pilot.pause()
        toast = app.screen.query_one("Toast").region
        assert toast.height and not toast.overlaps(events.region) and toast.y <= 2

    async def main() -> None:
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await scenario(pilot)

    asyncio.run(main())


async def _loaded(pilot: Any) -> None:
    for _ in range(200):
        if pilot.app.screen.query_one("#runs", LineTable).keys:
            break
        await pilot.pause(0.02)
    await pilot.pause()


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_with_forty_runs(snap_compare: Any, forty_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(forty_db), terminal_size=size, run_before=_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_with_one_run(snap_compare: Any, one_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(one_db), terminal_size=size, run_before=_loaded)


def test_at_80_columns_the_profile_editor_takes_the_width_while_it_has_focus(tmp_path: Path) -> None:
    from tests.tui.test_profile_editor import drive as drive_profiles
    from tests.tui.test_profile_editor import editor, open_profile, write_mine

    write_mine(tmp_path)

    async def scenario(pilot: Any, screen: Any) -> None:
        await open_profile(pilot, screen, "local:mine")
        area = editor(screen)
        area.focus()
        await pilot.pause()
        assert area.outer_size.width == 80 and not screen.query_one("#side").display
        await pilot.press("shift+tab")  # back to the list: it comes back beside the editor
        await settle(pilot, lambda: screen.query_one("#side").display)
        assert area.outer_size.width < 50

    drive_profiles(tmp_path, scenario)


def test_an_empty_runs_pane_says_what_hides_the_runs(tmp_path: Path) -> None:
    """"No runs yet" only when the store has none: runs that all finished more than a week ago
    are said to be older (a shows them), runs the filters leave out are said to be filtered
    (esc clears), and a says so no more once it shows them."""
    from store import Store

    (tmp_path / ".uet").mkdir()
    db = tmp_path / ".uet" / "uet.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        for n in range(3):
            created = stores.NOW - (10 + n) * DAY
            stores._run(conn, f"o{n:03d}0000000", "weekly", "succeeded", 2, 2, 0, created, created + 1, created + 9)
    app = app_for(db)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
            runs = app.screen.query_one("#runs", LineTable)
            said = lambda: runs.render_line(1).text.strip()  # noqa: E731
            await settle(pilot, lambda: "older hidden" in str(runs.border_title))
            assert said() == "no run finished in the last 7 days: a shows the older ones"
            await pilot.press("a")
            await settle(pilot, lambda: len(runs.keys) == 3)
            await pilot.press("a", "s", "s", "s")  # older hidden again; active, running, failed
            await settle(pilot, lambda: "state: failed" in str(runs.border_title))
            assert not runs.keys and said() == "no run the filters keep: esc clears them"

    asyncio.run(main())


def test_an_empty_store_says_there_is_no_run_yet(tmp_path: Path) -> None:
    from store import Store
    from tui.screens.dashboard import RUNS_EMPTY

    (tmp_path / ".uet").mkdir()
    db = tmp_path / ".uet" / "uet.db"
    Store(db).close()
    app = app_for(db)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
            await pilot.pause()
            assert app.screen.query_one("#runs", LineTable).render_line(1).text.strip() == RUNS_EMPTY

    asyncio.run(main())


def test_runs_that_keep_coming_are_held_up_to_what_a_start_loads(forty_db: Path) -> None:
    """A dashboard left open beside a trigger that fires every minute holds the newest runs (as
    many as it loads at start, a tenth more at most) and the selected one, not every run that came."""
    from engine.monitor import Delta
    from schemas.records import RunRecord
    from tui.feed import StoreChanged

    app = app_for(forty_db)
    app.monitor.runs_shown = 10

    async def scenario(pilot: Any) -> None:
        dashboard = app.screen
        runs = dashboard.query_one("#runs", LineTable)
        await settle(pilot, lambda: len(runs.keys) == 10)
        unfinished = {run.id for run in dashboard.runs.values() if run.state in ("running", "paused", "pending")}
        await settle(pilot, lambda: dashboard.selected is not None)
        while dashboard.selected in unfinished:  # a finished run selected: it would go, but for that
            await pilot.press("down")
            await pilot.pause()
        selected = dashboard.selected
        assert unfinished and selected is not None
        came = []
        for n in range(30):
            created = stores.NOW + 60 * (n + 1)
            came.append(RunRecord(id=f"new{n:03d}00000", workstream="tick", root="/project", state="succeeded",
                                  created_at=created, started_at=created, ended_at=created + 1,
                                  total_steps=1, done_steps=1))
            dashboard.post_message(StoreChanged(Delta(runs=came[-1:])))
            await pilot.pause()
            assert len(dashboard.runs) <= 11
        await settle(pilot, lambda: "new02900000" in runs.keys)
        newest = 10 - len(unfinished) - 1
        assert dashboard.selected == selected
        assert set(dashboard.runs) == {run.id for run in came[-newest:]} | unfinished | {selected}
        assert set(runs.keys) <= set(dashboard.runs)

    drive(app, scenario)

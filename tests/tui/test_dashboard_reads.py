"""The dashboard reads the store with one plain connection (``store.reads``), one read at a
time: its reads run in worker threads, and quitting closes that connection only once the read
in flight is done (closed under a read, the process crashed, one quit in six here)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from store import reads
from store.errors import StoreError
from tests.tui import stores
from tests.tui.test_dashboard import settle
from tui.app import make_app
from tui.screens.dashboard import DashboardScreen
from tui.widgets.line_table import LineTable


def test_quitting_waits_for_the_read_in_flight_before_closing_the_connection(
        fixed_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(fixed_db.parent.parent, fixed_db, clock=lambda: stores.NOW, live=False)
    entered = threading.Event()
    outcome: list[Any] = []
    events_since = reads.events_since

    def slow(conn: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - the rows read
        entered.set()
        time.sleep(0.3)  # the app quits meanwhile
        try:
            rows = events_since(conn, *args, **kwargs)
        except Exception as exc:
            outcome.append(exc)
            raise
        outcome.append(len(rows))
        return rows

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
            assert app.screen.query_one("#runs", LineTable).keys
            monkeypatch.setattr(reads, "events_since", slow)
            app.poke()
            assert await asyncio.to_thread(entered.wait, 10), "the feed never read again"

    asyncio.run(main())
    assert outcome == [0], outcome  # the read ran to its end on an open connection
    with pytest.raises(StoreError, match="closed"), app.reading():
        pass  # and the app reads no more once it has closed


def test_the_runs_come_from_the_plain_connection_and_the_store_opens_after(fixed_app: Any) -> None:
    async def main() -> None:
        async with fixed_app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen) and fixed_app.screen.loaded)
            listed = fixed_app.screen.query_one("#runs", LineTable)
            assert listed.keys
            assert type(fixed_app.screen.runs[listed.keys[0]]) is reads.RunRow
            await settle(pilot, lambda: fixed_app.store is not None)  # opened once the runs were drawn

    asyncio.run(main())


def test_a_run_opened_before_the_store_is_open_opens_it(fixed_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enter on a run right after the runs are listed, before the store opened in the
    background: the run screen reads the store (attempts, logs), so it is opened for it."""
    from tui.app import UetApp
    from tui.screens.run import RunScreen

    monkeypatch.setattr(UetApp, "open_soon", lambda app: None)  # the background open has not come yet

    async def main() -> None:
        async with fixed_app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: isinstance(fixed_app.screen, DashboardScreen) and fixed_app.screen.loaded)
            await settle(pilot, lambda: fixed_app.screen.selected == stores.LIVE_RUN and fixed_app.screen.steps)
            assert fixed_app.store is None
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(fixed_app.screen, RunScreen))
            run_screen = fixed_app.screen
            await pilot.press("j", "j", "j")  # test-unit, whose attempts are read from the store
            await settle(pilot, lambda: run_screen.query_one("#attempts", LineTable).keys == ["1"])
            assert fixed_app.store is not None

    asyncio.run(main())

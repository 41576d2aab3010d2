"""The dashboard catches up with a burst of events in one wake-up: while a read says there is
more than it returned, the app reads again before it waits for the next change. Without that,
the rest of a burst waits for some later write, which on a quiet store may never come."""

from __future__ import annotations

from typing import Any

from tests.tui import stores
from tests.tui.test_dashboard import drive, settle
from tui.app import UetApp
from tui.widgets.event_log import EventLog


def test_one_wake_up_reads_a_burst_larger_than_a_read(fixed_app: UetApp) -> None:
    async def scenario(pilot: Any) -> None:
        log = fixed_app.screen.query_one(EventLog)
        fixed_app.monitor.events_per_poll = 2
        store = fixed_app.open_store()
        for n in range(5):  # through the app's own store, as a steering key writes
            store.insert_command(stores.LIVE_RUN, "retry", {"step": f"s{n}"}, "someone")
        fixed_app.poke()  # one wake-up, as the change feed gives for one burst of writes
        await settle(pilot, lambda: sum("command retry from someone" in line.plain for line in log.kept) == 5)
        assert [line.plain.rsplit(" ", 1)[-1] for line in log.kept][-5:] == ["s0", "s1", "s2", "s3", "s4"]

    drive(fixed_app, scenario)

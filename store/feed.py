"""The change feed: wake readers when the database changes, then let them read what is new.

``watchfiles`` watches the database and its WAL. When watching is impossible (no inotify, a
network filesystem) the feed falls back to polling the files' size and mtime. Either way the
feed also wakes on a timer, so a reader never waits on a missed notification for long.
Readers keep a cursor (the last event ``seq`` seen) and fetch ``events WHERE seq > cursor``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from schemas.records import EventRecord


class ChangeFeed:
    def __init__(self, db_path: Path, *, tick: float = 1.0, poll_interval: float = 0.25, force_polling: bool = False,
                 debounce: float = 0.05) -> None:
        """``debounce`` is the longest a burst of changes is gathered before one wake-up: a
        reader that only needs to notice, not follow every change, sets it higher and wakes
        less often while the database is busy."""
        self.db_path = Path(db_path)
        self.tick = tick
        self.debounce = debounce
        self.poll_interval = poll_interval
        self.force_polling = force_polling or os.environ.get("UET_FEED_POLL") == "1"
        self.mode = "polling" if self.force_polling else "watching"
        self._names = {self.db_path.name, self.db_path.name + "-wal"}

    def _signature(self) -> tuple:
        out = []
        for name in sorted(self._names):
            try:
                st = os.stat(self.db_path.parent / name)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    async def changes(self, stop: asyncio.Event | None = None) -> AsyncIterator[bool]:
        """Yield True after a change to the database, False on a quiet tick."""
        if not self.force_polling:
            try:
                from watchfiles import awatch

                names = self._names

                def only_db(_change: object, path: str) -> bool:
                    return os.path.basename(path) in names

                async for changes in awatch(
                    self.db_path.parent,
                    watch_filter=only_db,
                    debounce=int(self.debounce * 1000),
                    step=20,
                    rust_timeout=int(self.tick * 1000),
                    yield_on_timeout=True,
                    recursive=False,
                    stop_event=stop,
                ):
                    yield bool(changes)
                return
            except (OSError, RuntimeError):
                self.mode = "polling"
        async for changed in self._poll(stop):
            yield changed

    async def _poll(self, stop: asyncio.Event | None) -> AsyncIterator[bool]:
        import asyncio  # loaded by whoever runs the loop; not imported with EventCursor, which reads without it

        last = self._signature()
        quiet = 0.0
        while stop is None or not stop.is_set():
            await asyncio.sleep(self.poll_interval)
            now = self._signature()
            if now != last:
                last, quiet = now, 0.0
                yield True
            else:
                quiet += self.poll_interval
                if quiet >= self.tick:
                    quiet = 0.0
                    yield False


class EventCursor:
    """Remembers the last event seen so each read returns only what is new."""

    def __init__(self, run_id: str | None = None, after: int = 0, step_id: str | None = None) -> None:
        self.run_id = run_id
        self.step_id = step_id
        self.seq = after

    def read(self, limit: int = 5_000) -> list[EventRecord]:
        # The queries (the ORM, the records) come with a reader: the dashboard's feed goes without.
        from store import queries

        events = queries.events_after(self.seq, self.run_id, limit, self.step_id)
        if events:
            self.seq = events[-1].seq
        return events

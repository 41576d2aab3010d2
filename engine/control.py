"""Cross-process control: other processes insert rows into ``commands`` (cancel, retry, pause,
resume); the engine that owns the run claims each one and carries it out. The change feed
wakes the consumer within tens of milliseconds of the insert; a quiet tick re-checks anyway."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from schemas.records import CommandRecord
from store import ChangeFeed, Store, queries

Handler = Callable[[CommandRecord], Awaitable[str]]


class Controller:
    def __init__(self, store: Store, worker_id: str, feed: ChangeFeed) -> None:
        self.store = store
        self.worker_id = worker_id
        self.feed = feed
        self.handlers: dict[str, Handler] = {}
        self.last_id = 0

    def register(self, run_id: str, handler: Handler) -> None:
        self.handlers[run_id] = handler

    def unregister(self, run_id: str) -> None:
        self.handlers.pop(run_id, None)

    async def poll(self) -> int:
        """Claim and carry out every open command for our runs; return how many."""
        if not self.handlers:
            return 0
        done = 0
        for command in queries.open_commands(self.handlers, self.last_id):
            self.last_id = max(self.last_id, command.id)
            handler = self.handlers.get(command.run_id)
            if handler is None or command.claimed_by is not None:
                continue
            if not self.store.writer.holds(self.worker_id):
                return done  # declared lost: the run's new engine takes its commands
            if not self.store.claim_command(command.id, self.worker_id):
                continue
            result = await handler(command)
            self.store.finish_command(command.id, result)
            done += 1
        return done

    async def serve(self, stop: asyncio.Event) -> None:
        await self.poll()
        async for _changed in self.feed.changes(stop):
            if stop.is_set():
                return
            await self.poll()

"""Workers: an engine process registers itself, heartbeats, and is judged lost when its
process is gone or its heartbeat is stale. Run ownership (``runs.worker_id``) plus this
liveness test is what keeps two engines from executing the same run. What a lost engine left
running is ended by ``engine.reaper``. The liveness test itself lives in ``engine.liveness``,
where the read commands find it without importing the engine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid

from engine.events import Event, Recorder
from engine.liveness import HOST, STALE_SECONDS, is_lost, pid_alive  # noqa: F401 - kept where the engine looks
from engine.states import transition
from schemas.states import WorkerState
from store import ops

HEARTBEAT_SECONDS = 2.0


class Worker:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.id = uuid.uuid4().hex
        self.state = WorkerState.STARTING
        recorder.store.register_worker(self.id, os.getpid(), HOST)
        # From here on the recorder writes for this worker, and the store fences those writes
        # should another engine declare this worker lost (see store.writer).
        recorder.owner = self.id
        recorder.store.writer.lease(self.id)

    def move(self, target: WorkerState) -> None:
        if target is self.state:
            return
        source = self.state
        self.state = transition("worker", source, target, self.id[:8])
        now = time.time()
        self.recorder.write(
            [ops.heartbeat(self.id, target.value, now)],
            [Event(now, "worker.state", data={"worker": self.id, "from": source.value, "to": target.value})],
        )

    def beat(self) -> None:
        self.recorder.store.submit([ops.heartbeat(self.id, self.state.value, time.time())], self.id)

    async def heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)

    def stop(self) -> None:
        """busy → idle → draining → stopped, each step recorded."""
        if self.state is WorkerState.BUSY:
            self.move(WorkerState.IDLE)
        if self.state is WorkerState.IDLE:
            self.move(WorkerState.DRAINING)
        if self.state in (WorkerState.STARTING, WorkerState.DRAINING):
            self.move(WorkerState.STOPPED)
        self.recorder.store.writer.release(self.id)

"""What every adapter is: an async callable from an ExecutionRequest to an ExecutionResult.

Adapters never raise for a tool's failure: a non-zero exit, a timeout or a crash is a result.
They raise only for a broken request (a bug). ``cancel`` is set when the operator cancels the
run; the adapter must then stop the attempt promptly (process groups included) and return
outcome ``canceled``. ``on_output`` receives each chunk of output as it arrives, for
throttled progress events; adapters write the full output to ``request.log_path`` themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from schemas.execution import ExecutionRequest, ExecutionResult

OutputCallback = Callable[[str], None]


class Adapter(Protocol):
    def __call__(
        self, request: ExecutionRequest, cancel: asyncio.Event, on_output: OutputCallback | None = None
    ) -> Awaitable[ExecutionResult]: ...


TAIL_CHARS = 4000


def tail(text: str, limit: int = TAIL_CHARS) -> str:
    return text if len(text) <= limit else text[-limit:]


class CancelToken(asyncio.Event):
    """An ``asyncio.Event`` that also runs callbacks when set, so an adapter can react to a
    cancel without keeping a task parked on ``wait()`` for every attempt."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []

    def set(self) -> None:
        if self.is_set():
            return
        super().set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def add_callback(self, callback: Callable[[], None]) -> None:
        if self.is_set():
            callback()
        else:
            self._callbacks.append(callback)

    def remove_callback(self, callback: Callable[[], None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

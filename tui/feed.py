"""What the app gives its screens about the store, in a module both import: the ``StoreChanged``
message the app fans out, and ``StoreFeed``, the part of the app a screen may call.

The app imports its screens (to push them) and the screens need these names, so they cannot
live in ``tui.app`` without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from textual.message import Message

from engine.monitor import Delta
from store import Store


class StoreChanged(Message):
    """New data from the store; ``delta`` holds only what changed."""

    def __init__(self, delta: Delta) -> None:
        super().__init__()
        self.delta = delta


class StoreFeed(Protocol):
    """The app as its screens see it: the store it reads in one place, who is at the keyboard,
    the clock (frozen in tests), and the two ways to ask for fresh data."""

    store: Store | None
    user: str
    clock: Callable[[], float]

    def watch_run(self, run_id: str | None) -> None:
        """Follow this run's steps; the next ``StoreChanged`` carries all of them."""

    def poke(self) -> None:
        """Read the store now rather than at the next change the feed sees."""

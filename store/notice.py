"""Where the store says what it is doing that takes a while: bringing an older store's schema
up to date, once after an upgrade (seconds on a store of a million attempts). A command prints
it on stderr, as ``uet: …``; the dashboard, whose screen a line on stderr would tear, silences
it before it opens its store (its panes say they are loading)."""

from __future__ import annotations

import sys
from collections.abc import Callable


def _stderr(text: str) -> None:
    print(f"uet: {text}", file=sys.stderr, flush=True)


announce: Callable[[str], None] | None = _stderr
"""Called with one line of text; None says nothing."""


def say(text: str) -> None:
    if announce is not None:
        announce(text)

"""Callables for the python adapter's tests (addressed as ``tests.engine.pycallables:NAME``)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any

NOT_A_FUNCTION = 42


def ok() -> None:
    return None


async def async_ok() -> str:
    await asyncio.sleep(0)
    return "done"


def with_tokens() -> dict[str, Any]:
    return {"tokens_in": 120, "tokens_out": 45, "model": "test-model"}


async def async_with_tokens() -> dict[str, Any]:
    return {"tokens_in": 7, "tokens_out": 3, "model": "async-model"}


def reports_nonsense() -> dict[str, Any]:
    """Usage no tool can have: more tokens than SQLite's integers hold, a list, a mapping."""
    return {"tokens_in": 10**30, "tokens_out": [1, 2], "model": {"name": "x"}}


def exits_past_255() -> None:
    raise SystemExit(10**23)


def returns_false() -> bool:
    return False


async def async_returns_false() -> bool:
    return False


def raises() -> None:
    raise ValueError("bad input 42")


async def async_raises() -> None:
    await asyncio.sleep(0)
    raise ValueError("bad async input")


def raises_timeout_error() -> None:
    raise TimeoutError("upstream socket timed out")


def exits() -> None:
    sys.exit(3)


async def async_sleeps(seconds: float = 30.0, started: asyncio.Event | None = None) -> None:
    if started is not None:
        started.set()
    await asyncio.sleep(seconds)


def sync_sleeps(
    seconds: float = 0.5,
    notify: Callable[[], object] | None = None,
    release: threading.Event | None = None,
) -> None:
    """Blocks a worker thread for ``seconds``, or until ``release`` is set (so tests end fast).
    ``notify`` is called from the thread once it runs."""
    if notify is not None:
        notify()
    (release or threading.Event()).wait(seconds)


def takes_params(a: int, b: str = "x", *, sink: list[Any] | None = None) -> dict[str, Any]:
    if sink is not None:
        sink.append((a, b))
    return {"tokens_in": a, "model": b}


async def async_takes_params(a: int, b: str = "x") -> dict[str, Any]:
    return {"tokens_out": a, "model": b}

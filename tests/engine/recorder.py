"""Callables that record what the engine did with them, for scheduler property tests."""

from __future__ import annotations

import asyncio
import gc

LOG: list[tuple[str, str]] = []
ACTIVE = {"now": 0, "peak": 0}


def reset() -> None:
    LOG.clear()
    ACTIVE.update(now=0, peak=0)


async def record(name: str, fail: bool = False, yields: int = 1) -> bool:
    LOG.append(("start", name))
    ACTIVE["now"] += 1
    ACTIVE["peak"] = max(ACTIVE["peak"], ACTIVE["now"])
    for _ in range(yields):
        await asyncio.sleep(0)
    ACTIVE["now"] -= 1
    LOG.append(("end", name))
    return not fail


FROZEN: list[int] = []


async def note_frozen(fail: bool = False) -> bool:
    """Note how many objects the collector has frozen while this step runs."""
    FROZEN.append(gc.get_freeze_count())
    return not fail

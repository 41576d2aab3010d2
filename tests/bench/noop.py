"""Callables for the benchmarks."""

from __future__ import annotations


async def noop() -> None:
    return None

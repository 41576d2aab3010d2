"""Trigger tests: a project with workstream files under ``.uet/workstreams/``, its store, and a
clock the test moves (schedules are tested without waiting for them)."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.triggers import Clock
from store import Store


class MovedClock(Clock):
    """Time stands still until the test moves it; a sleep ends only when the server is woken."""

    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at

    async def sleep_until(self, when: float | None, wake: asyncio.Event) -> None:
        await wake.wait()


@dataclass
class TriggerProject:
    root: Path
    store: Store

    def workstream(self, name: str, text: str) -> Path:
        path = self.root / ".uet" / "workstreams" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    def runs(self) -> list[tuple[str, str, str]]:
        """(id, workstream, state) of every run, oldest first."""
        rows = self.store.db.execute_sql("SELECT id, workstream, state FROM runs ORDER BY created_at").fetchall()
        return [tuple(row) for row in rows]


@pytest.fixture
def tp(tmp_path: Path) -> Iterator[TriggerProject]:
    (tmp_path / ".uet").mkdir()
    store = Store(tmp_path / ".uet" / "uet.db")
    try:
        yield TriggerProject(tmp_path.resolve(), store)
    finally:
        store.close()

"""Tool statistics, the Train phase's memory: attempts, outcomes and an EWMA of duration and
success per tool. The ``auto`` routing strategy scores tools from them. They are kept in memory
and written at most every ``flush_every`` seconds, since they are derived, not the record."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import ToolStatsRecord
from store import ops
from store.writer import Statement

ALPHA = 0.3
PRIOR_CALLS = 3


@dataclass
class ToolStats:
    tool: str
    attempts: int = 0
    successes: int = 0
    failures: int = 0
    total_seconds: float = 0.0
    ewma_seconds: float | None = None
    ewma_success: float | None = None
    last_used_at: float | None = None


class StatsBook:
    def __init__(self, records: list[ToolStatsRecord] | None = None) -> None:
        self.tools: dict[str, ToolStats] = {}
        for record in records or []:
            self.tools[record.tool] = ToolStats(**record.model_dump())
        self._dirty: set[str] = set()

    def record(self, tool: str, outcome: str, seconds: float, now: float) -> None:
        if outcome == "canceled":
            return
        stats = self.tools.get(tool)
        if stats is None:
            stats = self.tools[tool] = ToolStats(tool)
        ok = 1.0 if outcome == "succeeded" else 0.0
        stats.attempts += 1
        stats.successes += int(ok)
        stats.failures += 1 - int(ok)
        stats.total_seconds += seconds
        stats.ewma_seconds = seconds if stats.ewma_seconds is None else ALPHA * seconds + (1 - ALPHA) * stats.ewma_seconds
        stats.ewma_success = ok if stats.ewma_success is None else ALPHA * ok + (1 - ALPHA) * stats.ewma_success
        stats.last_used_at = now
        self._dirty.add(tool)

    def score(self, tool: str) -> tuple[float, float]:
        """Higher is better: recent success first, then speed. Few calls mean an optimistic
        prior, so every tool gets tried before the numbers decide."""
        stats = self.tools.get(tool)
        if stats is None or stats.attempts < PRIOR_CALLS or stats.ewma_success is None:
            return (1.0, 0.0)
        return (round(stats.ewma_success, 2), -(stats.ewma_seconds or 0.0))

    def flush(self) -> list[Statement]:
        out = []
        for tool in sorted(self._dirty):
            s = self.tools[tool]
            out.append(
                ops.upsert_tool_stats(
                    tool, s.attempts, s.successes, s.failures, s.total_seconds, s.ewma_seconds, s.ewma_success,
                    s.last_used_at or 0.0,
                )
            )
        self._dirty.clear()
        return out

"""History at a glance, read on a read-only connection (``store.views``): per tool, the success
rate and median duration of each recent day; dollars per day; the durations of each workstream's
recent runs. The dashboard's history screen draws these.

Days are UTC days, an attempt counted on the day it ended. A day without attempts is ``None``
(drawn as a gap), not zero. The reads go through indexes (migration 15): drawing two weeks reads
those two weeks, not the store's whole history (2.8 s at a million attempts before).
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from store.views import JUDGED_STATES, connect_read_only

DAYS = 14
RUNS_PER_WORKSTREAM = 30
MAX_TOOLS = 12
MAX_WORKSTREAMS = 12


@dataclass(frozen=True)
class ToolDays:
    """One tool over the window: totals, and one value per day (oldest first)."""

    tool: str
    attempts: int
    success_rate: float
    median: float | None
    daily_success: tuple[float | None, ...]
    daily_median: tuple[float | None, ...]


@dataclass(frozen=True)
class WorkstreamRuns:
    """The durations (s) of a workstream's most recent finished runs, oldest first."""

    workstream: str
    durations: tuple[float, ...]

    @property
    def median(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None


@dataclass(frozen=True)
class History:
    days: tuple[date, ...]
    tools: tuple[ToolDays, ...]
    daily_usd: tuple[float | None, ...]
    workstreams: tuple[WorkstreamRuns, ...]

    @property
    def total_usd(self) -> float:
        return sum(v for v in self.daily_usd if v is not None)


def window(now: float, days: int = DAYS) -> tuple[date, ...]:
    today = datetime.fromtimestamp(now, UTC).date()
    return tuple(today - timedelta(days=days - 1 - i) for i in range(days))


def load(path: Path, now: float, days: int = DAYS) -> History:
    conn = connect_read_only(path)
    try:
        span = window(now, days)
        since = datetime.combine(span[0], datetime.min.time(), UTC).timestamp()
        return History(span, tool_days(conn, span, since), daily_usd(conn, span, since), workstream_runs(conn))
    finally:
        conn.close()


def tool_days(conn: sqlite3.Connection, span: tuple[date, ...], since: float) -> tuple[ToolDays, ...]:
    """The busiest tools of the window (at most MAX_TOOLS), each with its days: the attempts
    that ended in the window, found through the index of when attempts ended (a store's whole
    history is not read to draw two weeks)."""
    index = {day.isoformat(): i for i, day in enumerate(span)}
    counts: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in span])
    durations: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in span])
    for tool, day, state, duration in conn.execute(
            "SELECT tool, date(ended_at, 'unixepoch'), state, duration FROM attempts "
            f"WHERE ended_at >= ? AND ended_at IS NOT NULL AND state IN {JUDGED_STATES}", (since,)):
        at = index.get(day)
        if at is None:
            continue
        counts[tool][at][0] += 1
        counts[tool][at][1] += state == "succeeded"
        if duration is not None:
            durations[tool][at].append(duration)
    totals = {tool: (sum(n for n, _ in days), sum(ok for _, ok in days)) for tool, days in counts.items()}
    busiest = sorted(totals, key=lambda tool: (-totals[tool][0], tool))[:MAX_TOOLS]
    out = []
    for tool in busiest:
        per_day = durations[tool]
        every = [d for day in per_day for d in day]
        attempts, succeeded = totals[tool]
        out.append(ToolDays(tool, attempts, succeeded / attempts, statistics.median(every) if every else None,
                            tuple(ok / n if n else None for n, ok in counts[tool]),
                            tuple(statistics.median(day) if day else None for day in per_day)))
    return tuple(out)


def daily_usd(conn: sqlite3.Connection, span: tuple[date, ...], since: float) -> tuple[float | None, ...]:
    """Dollars per day of the attempts that ran a tool (the costs), by the day they ended."""
    spent = dict(conn.execute(
        "SELECT date(ended_at, 'unixepoch'), SUM(usd) FROM attempts WHERE ended_at >= ? AND ended_at IS NOT NULL "
        "AND duration IS NOT NULL GROUP BY 1", (since,)).fetchall())
    return tuple(spent.get(day.isoformat()) for day in span)


def workstream_runs(conn: sqlite3.Connection, per: int = RUNS_PER_WORKSTREAM) -> tuple[WorkstreamRuns, ...]:
    """Each workstream's last ``per`` finished runs (most recently run workstreams first), read
    per workstream through the index of runs by workstream and age."""
    newest = conn.execute("SELECT workstream, MAX(created_at) FROM runs GROUP BY workstream").fetchall()
    ordered = [w for w, _ in sorted(newest, key=lambda row: row[1], reverse=True)]
    out = []
    for workstream in ordered:
        rows = conn.execute(
            "SELECT ended_at - started_at FROM runs WHERE workstream = ? AND ended_at IS NOT NULL "
            "AND started_at IS NOT NULL ORDER BY created_at DESC LIMIT ?", (workstream, per)).fetchall()
        if rows:
            out.append(WorkstreamRuns(workstream, tuple(d for (d,) in reversed(rows))))
        if len(out) == MAX_WORKSTREAMS:
            break
    return tuple(out)

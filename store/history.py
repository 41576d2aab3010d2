"""History at a glance, read from the ``uet sql`` views (``store.views``) on a read-only
connection: per tool, the success rate and median duration of each recent day; dollars per day;
the durations of each workstream's recent runs. The dashboard's history screen draws these.

Days are UTC days. A day without attempts is ``None`` (drawn as a gap), not zero.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from store.views import add_views, connect_read_only

DAYS = 14
RUNS_PER_WORKSTREAM = 30
MAX_TOOLS = 12
MAX_WORKSTREAMS = 12
_ENDED = "('succeeded', 'failed', 'timed_out', 'crashed')"


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
        add_views(conn)
        span = window(now, days)
        first = span[0].isoformat()
        return History(span, tool_days(conn, span, first), daily_usd(conn, span, first), workstream_runs(conn))
    finally:
        conn.close()


def tool_days(conn: sqlite3.Connection, span: tuple[date, ...], first: str) -> tuple[ToolDays, ...]:
    """The busiest tools of the window (at most MAX_TOOLS), each with its days."""
    index = {day.isoformat(): i for i, day in enumerate(span)}
    rates: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(span))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day, tool, attempts, succeeded in conn.execute(
            "SELECT day, tool, attempts, succeeded FROM v_tool_daily WHERE day >= ?", (first,)):
        if day in index:
            rates[tool][index[day]] = succeeded / attempts
            counts[tool][0] += attempts
            counts[tool][1] += succeeded
    durations: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in span])
    for tool, day, duration in conn.execute(
            f"SELECT tool, substr(started_at, 1, 10), duration FROM v_attempts WHERE started_at >= ? "
            f"AND duration IS NOT NULL AND state IN {_ENDED}", (first,)):
        if day in index:
            durations[tool][index[day]].append(duration)
    busiest = sorted(counts, key=lambda tool: (-counts[tool][0], tool))[:MAX_TOOLS]
    out = []
    for tool in busiest:
        per_day = durations[tool]
        every = [d for day in per_day for d in day]
        out.append(ToolDays(tool, counts[tool][0], counts[tool][1] / counts[tool][0],
                            statistics.median(every) if every else None, tuple(rates[tool]),
                            tuple(statistics.median(day) if day else None for day in per_day)))
    return tuple(out)


def daily_usd(conn: sqlite3.Connection, span: tuple[date, ...], first: str) -> tuple[float | None, ...]:
    spent = dict(conn.execute(
        "SELECT substr(ts, 1, 10) AS day, SUM(usd) FROM v_costs WHERE ts >= ? GROUP BY 1", (first,)).fetchall())
    return tuple(spent.get(day.isoformat()) for day in span)


def workstream_runs(conn: sqlite3.Connection, per: int = RUNS_PER_WORKSTREAM) -> tuple[WorkstreamRuns, ...]:
    """Each workstream's last ``per`` finished runs (most recently run workstreams first)."""
    rows = conn.execute(
        """SELECT workstream, duration FROM (
               SELECT workstream, duration, created_at,
                      ROW_NUMBER() OVER (PARTITION BY workstream ORDER BY created_at DESC) AS n
               FROM v_runs WHERE duration IS NOT NULL AND ended_at IS NOT NULL)
           WHERE n <= ? ORDER BY created_at""", (per,)).fetchall()
    runs: dict[str, list[float]] = {}
    for workstream, duration in rows:
        runs.setdefault(workstream, []).append(duration)
    ordered = list(dict.fromkeys(w for w, _ in reversed(rows)))[:MAX_WORKSTREAMS]
    return tuple(WorkstreamRuns(w, tuple(runs[w])) for w in ordered)

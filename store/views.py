"""Read-only access to the store for analysis: a connection that cannot write or block the
engine, the SQL of each exported dataset, and the documented views over them.

The views (``v_runs``, ``v_steps``, ``v_attempts``, ``v_events``, ``v_costs``, ``v_patches``,
``v_tool_daily``) are written once here, in two dialects only where times are converted: SQLite
(times as ISO 8601 text ending in ``Z``) and DuckDB (``TIMESTAMP`` in UTC). They are created as
TEMP views on the reading connection, never in the store, so they cost the store nothing and
cannot go out of date with it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from schemas.analytics import DATASETS, Column, Dataset
from store.errors import NoSuchRecord, StoreError

#: Attempt states that judge a tool, as SQL: the attempts that ended for a reason of the tool's
#: (running and canceled ones say nothing about it).
JUDGED_STATES = "('succeeded', 'failed', 'timed_out', 'crashed')"
#: The schema version whose columns the datasets read (runs' step counts come with 8).
NEEDED_VERSION = 8
BUSY_TIMEOUT_MS = 5_000

#: The SQL expression of each column that is not the base table's column of the same name.
EXPRESSIONS: dict[str, dict[str, str]] = {
    "runs": {"duration": "ended_at - started_at",
             "succeeded_steps": "done_steps - failed_steps - skipped_steps - canceled_steps"},
    "steps": {"step_id": "id", "duration": "ended_at - started_at"},
    "attempts": {"attempt": "number"},
}
#: The table (or store view) each dataset reads.
SOURCES = {"runs": "runs", "steps": "steps", "attempts": "attempts", "events": "events", "costs": "costs",
           "patches": "patches"}
VIEW_NAMES = {name: f"v_{name}" for name in DATASETS}


class ReadOnlyStoreError(StoreError):
    """The store cannot be read as asked (missing, too old, a bad filter)."""


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can only read: the file opened with ``mode=ro``, ``query_only`` on.
    In WAL mode a reader takes no lock that holds up the engine's writer, and a writer's open
    transaction does not hold up this reader (it reads the last committed state)."""
    path = Path(path)
    if not path.is_file():
        raise NoSuchRecord(f"no UET database at {path}: run a workstream first (uet run FILE), or pass --db")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise ReadOnlyStoreError(f"{path}: cannot read the database: {exc}") from exc
    if version < NEEDED_VERSION:
        conn.close()
        raise ReadOnlyStoreError(f"{path}: the database is at schema version {version}; open it once with this "
                                 "uet (e.g. `uet runs`) to bring it up to date")
    return conn


def expression(dataset: Dataset, column: Column) -> str:
    return EXPRESSIONS.get(dataset.name, {}).get(column.name, column.name)


def select_list(dataset: Dataset, convert: bool, dialect: str = "sqlite") -> str:
    """The dataset's columns as ``expr AS name``; with ``convert`` times become the dialect's
    timestamps (the views), without it they stay epoch seconds (the exporter converts)."""
    parts = []
    for column in dataset.columns:
        expr = expression(dataset, column)
        if convert and column.type == "timestamp":
            expr = timestamp(expr, dialect)
        parts.append(f"{expr} AS {column.name}")
    return ", ".join(parts)


def timestamp(expr: str, dialect: str) -> str:
    if dialect == "duckdb":
        return f"make_timestamp(CAST(round(({expr}) * 1000000) AS BIGINT))"
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {expr}, 'unixepoch')"


def day(expr: str, dialect: str) -> str:
    if dialect == "duckdb":
        return f"CAST({timestamp(expr, dialect)} AS DATE)"
    return f"date({expr}, 'unixepoch')"


@dataclass(frozen=True)
class View:
    name: str
    description: str
    columns: tuple[str, ...]


TOOL_DAILY = View("v_tool_daily", "per tool and UTC day: attempts that ended, how many succeeded, the success "
                  "rate, mean and longest duration (s), dollars and tokens",
                  ("day", "tool", "attempts", "succeeded", "failed", "success_rate", "avg_duration",
                   "max_duration", "usd", "tokens_in", "tokens_out"))


def views(dialect: str, schema: str = "") -> list[tuple[str, str]]:
    """``(name, CREATE TEMP VIEW …)`` of every documented view, for ``dialect`` (``sqlite`` or
    ``duckdb``); ``schema`` prefixes the store's tables (DuckDB reads them as ``store.x``)."""
    out = []
    for name, dataset in DATASETS.items():
        sql = f"SELECT {select_list(dataset, True, dialect)} FROM {schema}{SOURCES[name]}"
        out.append((VIEW_NAMES[name], f"CREATE TEMP VIEW {VIEW_NAMES[name]} AS {sql}"))
    ended = f"state IN {JUDGED_STATES}"
    daily = f"""SELECT {day('started_at', dialect)} AS day, tool, COUNT(*) AS attempts,
        SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
        SUM(CASE WHEN state = 'succeeded' THEN 0 ELSE 1 END) AS failed,
        CAST(SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS success_rate,
        AVG(duration) AS avg_duration, MAX(duration) AS max_duration, SUM(usd) AS usd,
        SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out
        FROM {schema}attempts WHERE {ended} GROUP BY 1, 2"""
    out.append((TOOL_DAILY.name, f"CREATE TEMP VIEW {TOOL_DAILY.name} AS {daily}"))
    return out


def view_descriptions() -> list[View]:
    """Each view with what it holds and its columns, for ``uet sql --views`` and the README."""
    described = [View(VIEW_NAMES[name], f"{dataset.description}; the columns of `uet export {name}`",
                      tuple(dataset.names)) for name, dataset in DATASETS.items()]
    return [*described, TOOL_DAILY]


def add_views(conn: sqlite3.Connection) -> None:
    for _name, sql in views("sqlite"):
        conn.execute(sql)

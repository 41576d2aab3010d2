"""``uet sql``: one read-only SQL statement over the store, with the documented views.

Two backends give the same views (``store.views``):

- DuckDB, when it is installed with its SQLite scanner: the store is ATTACHed ``READ_ONLY`` under
  a name no statement can know, its tables shown through TEMP views of the same names, and
  external access is switched off and locked once the views exist, so a statement can neither
  write the store nor read or write other files.
- SQLite itself otherwise: the file opened with ``mode=ro``, ``PRAGMA query_only``, and an
  authorizer that allows reading and nothing else (no ATTACH, no PRAGMA, no writes, even to
  TEMP tables).

Neither shows the ``spec`` of runs and steps: it carries the steps' environment.

Either way the store is read in WAL mode, which takes no lock an engine's writer waits on.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from store.errors import StoreError
from store.views import add_views, connect_read_only, views

BACKENDS = ("auto", "duckdb", "sqlite")
BACKEND_ENV = "UET_SQL_BACKEND"
DEFAULT_LIMIT = 1000
_FIRST_WORD = re.compile(r"^\s*(?:(?:--[^\n]*\n)|(?:/\*.*?\*/)|\s)*([A-Za-z_]+)", re.S)
_READING = {"select", "with", "values", "explain"}
#: Columns no statement reads: the specs of runs and steps carry the steps' environment.
HIDDEN = {("runs", "spec"), ("steps", "spec")}


class SqlRefused(StoreError):
    """A statement that would write, attach or configure: refused before it runs."""


class SqlFailed(StoreError):
    """The backend could not run the statement (a syntax error, an unknown column, …)."""


@dataclass(frozen=True)
class Result:
    backend: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    more: bool


def refuse_writes(sql: str) -> None:
    """A first check both backends share, so the refusal reads the same: the statement must
    begin as a reading one does. The backends' own guards stop what gets past it."""
    match = _FIRST_WORD.match(sql)
    word = match.group(1).lower() if match else ""
    if word not in _READING:
        shown = word or sql.strip()[:20] or "an empty statement"
        raise SqlRefused(f"refused: `{shown}` is not a reading statement; uet sql runs one SELECT (or WITH, VALUES, "
                         "EXPLAIN) and never changes the store")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# -- SQLite ---------------------------------------------------------------------------------

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_ACTIONS = {getattr(sqlite3, f"SQLITE_{name.upper().replace(' ', '_')}"): name for name in (
    "create index", "create table", "create temp index", "create temp table", "create temp trigger",
    "create temp view", "create trigger", "create view", "delete", "drop index", "drop table", "drop temp index",
    "drop temp table", "drop temp trigger", "drop temp view", "drop trigger", "drop view", "insert", "pragma",
    "transaction", "update", "attach", "detach", "alter table", "reindex", "analyze", "create vtable",
    "drop vtable", "savepoint")}


class _Guard:
    """The authorizer: reading only. Remembers what it refused, to say so."""

    def __init__(self) -> None:
        self.refused: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action == sqlite3.SQLITE_READ and (arg1, arg2) in HIDDEN:
            return sqlite3.SQLITE_IGNORE  # read as NULL
        if action in _ALLOWED:
            return sqlite3.SQLITE_OK
        if self.refused is None:
            self.refused = " ".join(filter(None, (_ACTIONS.get(action, str(action)), arg1)))
        return sqlite3.SQLITE_DENY


def sqlite_connection(path: Path) -> tuple[sqlite3.Connection, _Guard]:
    conn = connect_read_only(path)
    add_views(conn)
    conn.execute("PRAGMA query_only = 1")
    guard = _Guard()
    conn.set_authorizer(guard)
    return conn, guard


def _run_sqlite(path: Path, sql: str, limit: int) -> Result:
    conn, guard = sqlite_connection(path)
    try:
        try:
            cursor = conn.execute(sql)
            rows = cursor.fetchmany(limit + 1)
        except sqlite3.Error as exc:
            if guard.refused:
                raise SqlRefused(f"refused: {guard.refused}: uet sql only reads") from exc
            raise SqlFailed(f"sqlite: {_one_line(exc)}") from exc
        columns = [d[0] for d in cursor.description or ()]
        return Result("sqlite", columns, rows[:limit], len(rows) > limit)
    finally:
        conn.close()


# -- DuckDB ---------------------------------------------------------------------------------


def duckdb_available() -> bool:
    return _duckdb_scanner() is not None


@functools.cache
def _duckdb_scanner() -> tuple[Any, str | None] | None:
    """DuckDB and how to load its SQLite scanner: a packaged extension file, or the one DuckDB
    installed itself (None); None when either is missing."""
    try:
        import duckdb
    except ImportError:
        return None
    try:
        import duckdb_extension_sqlite_scanner as packaged

        found = sorted(Path(packaged.__file__).parent.rglob("sqlite_scanner.duckdb_extension"))
        if found:
            return duckdb, str(found[-1])
    except ImportError:
        pass
    probe = duckdb.connect()
    try:
        probe.execute("LOAD sqlite_scanner")
    except Exception:  # noqa: BLE001 - not installed, and no network to fetch it
        return None
    finally:
        probe.close()
    return duckdb, None


def _run_duckdb(path: Path, sql: str, limit: int) -> Result:
    scanner = _duckdb_scanner()
    if scanner is None:
        raise SqlFailed("the DuckDB backend needs duckdb and its SQLite scanner: pip install 'uet[analytics]'")
    duckdb, extension = scanner
    with closing(connect_read_only(path)) as reader:  # the same checks (exists, schema version) and messages
        tables = _store_tables(reader)
    # The store is attached under a name no statement can know and every table of it is shown
    # through a TEMP view of the same name, without the specs (they hold the steps' environment).
    alias = f"store_{secrets.token_hex(6)}"
    conn = duckdb.connect(":memory:")
    try:
        conn.execute(f"LOAD '{extension}'" if extension else "LOAD sqlite_scanner")
        quoted = str(Path(path).resolve()).replace("'", "''")
        conn.execute(f"ATTACH '{quoted}' AS {alias} (TYPE sqlite, READ_ONLY)")
        for table, columns in tables.items():
            hidden = [c for c in columns if (table, c) in HIDDEN]
            shown = f"* EXCLUDE ({', '.join(hidden)})" if hidden else "*"
            conn.execute(f'CREATE TEMP VIEW "{table}" AS SELECT {shown} FROM {alias}."{table}"')
        for _name, view in views("duckdb", schema=f"{alias}."):
            conn.execute(view)
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
        try:
            statements = conn.extract_statements(sql)
        except duckdb.Error as exc:
            raise SqlFailed(f"duckdb: {_one_line(exc)}") from exc
        if len(statements) != 1:
            raise SqlRefused(f"refused: {len(statements)} statements; uet sql runs one")
        kind = str(statements[0].type).rsplit(".", 1)[-1].lower()
        if kind not in {"select", "explain"}:
            raise SqlRefused(f"refused: `{kind}` is not a reading statement; uet sql only reads")
        if alias in sql.lower():
            raise SqlRefused("refused: the attached store is read through its views and tables only")
        try:
            cursor = conn.execute(sql)
            rows = cursor.fetchmany(limit + 1)
        except duckdb.Error as exc:
            raise SqlFailed(f"duckdb: {_one_line(exc)}") from exc
        columns = [d[0] for d in cursor.description or ()]
        return Result("duckdb", columns, rows[:limit], len(rows) > limit)
    finally:
        conn.close()


def _store_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """The store's tables and views with their columns (the full-text index's shadow tables and
    SQLite's own left out)."""
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'lessons_fts%' ORDER BY name")]
    return {name: [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')] for name in names}


def choose_backend(asked: str | None = None) -> str:
    """``duckdb`` or ``sqlite``: what was asked (or ``$UET_SQL_BACKEND``), ``auto`` taking DuckDB
    when it can read the store."""
    wanted = (asked or os.environ.get(BACKEND_ENV) or "auto").lower()
    if wanted not in BACKENDS:
        raise SqlRefused(f"{BACKEND_ENV}: {wanted!r} is not a backend (auto, duckdb or sqlite)")
    if wanted == "auto":
        return "duckdb" if duckdb_available() else "sqlite"
    return wanted


def run_sql(path: Path, sql: str, *, limit: int = DEFAULT_LIMIT, backend: str | None = None) -> Result:
    """Run one reading statement over the store at ``path``; at most ``limit`` rows, ``more``
    saying whether there were others."""
    refuse_writes(sql)
    chosen = choose_backend(backend)
    return _run_duckdb(path, sql, limit) if chosen == "duckdb" else _run_sqlite(path, sql, limit)


def plain(value: Any) -> Any:
    """A value as JSON and CSV write it: times as ISO 8601 (DuckDB's timestamps are UTC)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value.tzinfo is None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "as_integer_ratio") and not isinstance(value, int | float):  # Decimal
        return float(value)
    return value


def plain_rows(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    return [[plain(value) for value in row] for row in rows]

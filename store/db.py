"""The connection: one ``SqliteDatabase`` initialised at start-up with the pragmas every
process uses, so the engine, the CLI and the dashboard agree on locking and durability.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peewee import SqliteDatabase

BUSY_TIMEOUT_MS = 10_000

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    "temp_store": "memory",
    "cache_size": -16_000,
}


# The sqlite3 module binds exact ints, floats and strings at once, but treats every other value,
# None and bool among them, as an object to adapt: two failed attribute lookups, each building an
# AttributeError, per value. Run rows bind many NULLs (an attempt row alone has a dozen), so the
# identity is registered for None and int() for bool: what is stored is exactly what sqlite3 stores
# without them (NULL, 0 and 1), found with one dictionary lookup instead.
sqlite3.register_adapter(type(None), {}.get)  # {}.get(None) is None, and a C call
sqlite3.register_adapter(bool, int)


def default_db_path(root: Path) -> Path:
    """``<project>/.uet/uet.db``, unless ``UET_DB`` says otherwise."""
    override = os.environ.get("UET_DB")
    return Path(override) if override else root / ".uet" / "uet.db"


def make_database(path: Path) -> SqliteDatabase:
    from peewee import SqliteDatabase  # here: finding a project's store (uet validate) opens none

    path.parent.mkdir(parents=True, exist_ok=True)
    # Transactions are explicit (BEGIN IMMEDIATE) so a writer never upgrades a read lock and
    # deadlocks against another process's writer.
    return SqliteDatabase(str(path), pragmas=PRAGMAS, lock_type="IMMEDIATE", check_same_thread=False)

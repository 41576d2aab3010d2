"""The connection: one ``SqliteDatabase`` initialised at start-up with the pragmas every
process uses, so the engine, the CLI and the dashboard agree on locking and durability.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def default_db_path(root: Path) -> Path:
    """``<project>/.uet/uet.db``, unless ``UET_DB`` says otherwise."""
    override = os.environ.get("UET_DB")
    return Path(override) if override else root / ".uet" / "uet.db"


def make_database(path: Path) -> SqliteDatabase:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Transactions are explicit (BEGIN IMMEDIATE) so a writer never upgrades a read lock and
    # deadlocks against another process's writer.
    return SqliteDatabase(str(path), pragmas=PRAGMAS, lock_type="IMMEDIATE", check_same_thread=False)

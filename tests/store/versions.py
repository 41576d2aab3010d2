"""A store made by an older UET: the schema of its version, as those migrations made it."""

from __future__ import annotations

from pathlib import Path

from peewee import SqliteDatabase

from store.migrations import MIGRATIONS


def store_at(path: Path, version: int) -> SqliteDatabase:
    """The database at ``path`` (its folder made) brought to schema ``version`` and no further;
    open, for the caller to add rows and close."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = SqliteDatabase(str(path))
    for number, _name, step in MIGRATIONS:
        if number <= version:
            step(old)
    old.execute_sql(f"PRAGMA user_version = {version}")
    return old

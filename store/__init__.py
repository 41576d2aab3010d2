"""Persistence: Peewee on SQLite (WAL), numbered migrations, one batched writer, the change feed."""

from __future__ import annotations

from store import ops, queries
from store.db import default_db_path
from store.errors import NoSuchRecord, StoreError
from store.feed import ChangeFeed, EventCursor
from store.store import RunOwned, Store

__all__ = [
    "ChangeFeed",
    "EventCursor",
    "NoSuchRecord",
    "RunOwned",
    "Store",
    "StoreError",
    "default_db_path",
    "ops",
    "queries",
]

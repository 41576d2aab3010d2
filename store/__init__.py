"""Persistence: Peewee on SQLite (WAL), numbered migrations, one batched writer, the change feed.

The names below are imported from their modules when first asked for (``from store import
Store``), not when the package is: a read command does not pay for the writer, the change feed
and asyncio, and ``store.feed`` and ``store.store`` can import ``store.queries`` without the
package importing them back.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ChangeFeed": "store.feed",
    "EventCursor": "store.feed",
    "NoSuchRecord": "store.errors",
    "RunOwned": "store.store",
    "Store": "store.store",
    "StoreError": "store.errors",
    "default_db_path": "store.db",
    "ops": None,
    "queries": None,
}
"""Each name and its module; None for a submodule given by its own name."""

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    module = _WHERE[name]
    value = importlib.import_module(f"store.{name}") if module is None else getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

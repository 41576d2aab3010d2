"""The queries of the run and patch lists, shared by ``store.reads`` (plain sqlite3, the read
commands) and ``store.queries`` (the store's connection); it imports nothing of the store, so
neither imports the other for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def runs_sql(columns: Sequence[str], limit: int, offset: int = 0,
             states: Sequence[str] | None = None) -> tuple[str, list[Any]]:
    """The query of the newest runs (in one of ``states``, searched in the index ``runs_age``),
    ``columns`` in their order."""
    sql = f"SELECT {', '.join(columns)} FROM runs"
    params: list[Any] = []
    if states is not None:
        sql += f" WHERE state IN ({', '.join('?' * len(states))})"
        params += states
    return sql + " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?", [*params, limit, offset]


PATCH_COLUMNS = ("id", "run_id", "step_id", "attempt", "state", "base_commit", "sha256", "files", "added", "removed",
                  "gate", "round", "parent_id", "worktree", "created_at", "updated_at", "decided_by", "reason",
                  "applied_commit", "round_kind", "superseded_by")


def patches_sql(run_id: str | None = None, state: str | None = None,
                limit: int | None = 200) -> tuple[str, list[Any]]:
    """The query of the newest patches (of one run, in one state; all of them with ``limit``
    None), columns in PATCH_COLUMNS' order: read by ``store.reads`` with sqlite3 and by
    ``store.queries`` through the store's connection."""
    sql = f"SELECT {', '.join(PATCH_COLUMNS)} FROM patches WHERE 1 = 1"
    params: list[Any] = []
    if run_id is not None:
        sql += " AND run_id = ?"
        params.append(run_id)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    if limit is None:
        return sql + " ORDER BY created_at DESC, id", params
    return sql + " ORDER BY created_at DESC, id LIMIT ?", [*params, limit]

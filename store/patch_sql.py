"""The query of the patch list, shared by ``store.reads`` (plain sqlite3, the read commands) and
``store.queries`` (the store's connection); it imports nothing of the store, so neither
imports the other for it."""

from __future__ import annotations

from typing import Any

PATCH_COLUMNS = ("id", "run_id", "step_id", "attempt", "state", "base_commit", "sha256", "files", "added", "removed",
                  "gate", "round", "parent_id", "worktree", "created_at", "updated_at", "decided_by", "reason",
                  "applied_commit", "round_kind", "superseded_by")


def patches_sql(run_id: str | None = None, state: str | None = None, limit: int = 200) -> tuple[str, list[Any]]:
    """The query of the newest patches (of one run, in one state), columns in PATCH_COLUMNS'
    order: read by ``store.reads`` with sqlite3 and by ``store.queries`` through the store's connection."""
    sql = f"SELECT {', '.join(PATCH_COLUMNS)} FROM patches WHERE 1 = 1"
    params: list[Any] = []
    if run_id is not None:
        sql += " AND run_id = ?"
        params.append(run_id)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    return sql + " ORDER BY created_at DESC, id LIMIT ?", [*params, limit]

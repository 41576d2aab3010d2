"""A real SQLite store in a temporary directory, and lessons and runs written into it with the
store's own statements (the tests of whole runs make theirs with `uet run`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from store import Store, ops
from store import lessons as stored


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / ".uet" / "uet.db")
    try:
        yield opened
    finally:
        opened.close()


def add_lesson(store: Store, source: str, *, task: str = "", files: Sequence[str] = (), failure: str = "it failed",
               fix: str = "", kind: str = "code_edit", run_id: str = "run1", step_id: str = "fix",
               outcome: str = "fixed", failure_kind: str = "gate", ts: float = 1000.0) -> None:
    store.execute_now([stored.upsert_lesson(ts, run_id, step_id, kind, "editor", task, list(files), failure_kind,
                                            failure, fix, outcome, 2, source)])


def add_run(store: Store, run_id: str, steps: Sequence[tuple[str, str, dict]]) -> None:
    store.create_run(run_id=run_id, workstream="w", source=None, root="/nowhere", max_parallel=1, spec={},
                     steps=[(sid, kind, [], spec) for sid, kind, spec in steps])


def add_attempt(store: Store, run_id: str, step_id: str, number: int, tool: str, state: str,
                usd: float | None = None, error: str | None = None, output: str | None = None) -> None:
    row = ops.attempt_row(run_id, step_id, number, tool, state, None, 1.0, ended_at=2.0, usd=usd, error=error,
                          duration=1.0, output=output)
    store.execute_now([(row.sql, row.params)])

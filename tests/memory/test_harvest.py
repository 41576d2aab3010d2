"""Harvest on a real store written with the store's own statements: reviewer comments answered
by an approved revision round, comments never answered, secrets masked, everything bounded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.memory import harvest
from engine.memory.harvest import MAX_FAILURE_CHARS, MAX_FIX_CHARS
from store import Store, ops
from store import lessons as stored
from tests.memory.conftest import add_attempt, add_run


def patch(store: Store, patch_id: str, attempt: int, state: str, round_: int, diff: str, kind: str,
          files: list[str] | None = None) -> None:
    store.execute_now([ops.insert_patch(patch_id, "r1", "edit", attempt, state, "base", diff, "sha",
                                        [{"path": f} for f in files or ["src/app.py"]], 1, 1, None, round_,
                                        None, None, 1.0, "t", None, round_kind=kind)])


def comment(store: Store, patch_id: str, body: str, submitted: bool = True) -> None:
    store.execute_now([ops.insert_comment(patch_id, "src/app.py", 3, None, body, "", "ana", 2.0,
                                          3.0 if submitted else None)])


@pytest.fixture
def reviewed(store: Store) -> Store:
    add_run(store, "r1", [("edit", "code_edit", {"produces": "patch", "description": "Add retries to the client",
                                                  "context": ["src/app.py", "memory"]})])
    add_attempt(store, "r1", "edit", 1, "coder", "succeeded")
    add_attempt(store, "r1", "edit", 2, "coder", "succeeded")
    patch(store, "p1", 1, "superseded", 1, "+first try\n", "first")
    comment(store, "p1", "retry only idempotent requests")
    comment(store, "p1", "a draft nobody sent", submitted=False)
    patch(store, "p2", 2, "approved", 2, "+retry GET only\n", "revision")
    return store


def test_comments_answered_by_an_approved_revision_are_a_fixed_lesson(reviewed: Store) -> None:
    assert harvest(reviewed, "r1") == 1
    [lesson] = stored.list_lessons()
    assert (lesson.failure_kind, lesson.outcome, lesson.rounds, lesson.source) == ("review", "fixed", 2,
                                                                                    "patch:p1:review")
    assert lesson.failure == "a reviewer asked for changes:\nsrc/app.py:3: retry only idempotent requests"
    assert lesson.fix == "+retry GET only\n" and lesson.files == ["src/app.py"]
    assert lesson.task == "Add retries to the client"


def test_comments_not_answered_yet_are_unresolved_until_a_later_harvest(store: Store) -> None:
    add_run(store, "r1", [("edit", "code_edit", {"produces": "patch"})])
    add_attempt(store, "r1", "edit", 1, "coder", "succeeded")
    patch(store, "p1", 1, "changes_requested", 1, "+first try\n", "first")
    comment(store, "p1", "retry only idempotent requests")
    assert harvest(store, "r1") == 1
    assert [(le.outcome, le.fix) for le in stored.list_lessons()] == [("unresolved", "")]
    add_attempt(store, "r1", "edit", 2, "coder", "succeeded")
    patch(store, "p2", 2, "applied", 2, "+retry GET only\n", "revision")
    assert harvest(store, "r1") == 1  # the same lesson, known better now
    assert [(le.outcome, le.fix) for le in stored.list_lessons()] == [("fixed", "+retry GET only\n")]


def test_secrets_are_masked_and_everything_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_API_KEY", "sk-live-0123456789abcdef")
    add_run(store, "r1", [("edit", "code_edit", {"produces": "patch", "env": {"DB_URL": "postgres://u:hunter2@db"}})])
    add_attempt(store, "r1", "edit", 1, "coder", "failed",
                error="auth failed with sk-live-0123456789abcdef for postgres://u:hunter2@db",
                output="y" * (MAX_FAILURE_CHARS * 3))
    add_attempt(store, "r1", "edit", 2, "coder", "succeeded")
    patch(store, "p2", 2, "gate_passed", 1, "+" + "z" * (MAX_FIX_CHARS * 2), "first")
    assert harvest(store, "r1") == 1
    [lesson] = stored.list_lessons()
    assert "sk-live" not in lesson.failure and "hunter2" not in lesson.failure and "***" in lesson.failure
    assert len(lesson.failure) <= MAX_FAILURE_CHARS + 20 and len(lesson.fix) <= MAX_FIX_CHARS + 20
    assert (lesson.failure_kind, lesson.outcome) == ("error", "fixed")


def test_uet_memory_shows_what_an_approval_since_taught(store: Store, tmp_path: Path) -> None:
    import subprocess
    import sys

    add_run(store, "r1", [("edit", "code_edit", {"produces": "patch"})])
    add_attempt(store, "r1", "edit", 1, "coder", "succeeded")
    patch(store, "p1", 1, "superseded", 1, "+first try\n", "first")
    comment(store, "p1", "retry only idempotent requests")
    add_attempt(store, "r1", "edit", 2, "coder", "succeeded")
    patch(store, "p2", 2, "gate_passed", 2, "+retry GET only\n", "revision")
    store.execute_now([("UPDATE runs SET state = 'succeeded', ended_at = 5.0 WHERE id = 'r1'", ())])
    assert harvest(store, "r1") == 1
    store.execute_now([stored.set_harvested_at(10.0)])
    store.execute_now([ops.patch_state("p2", "approved", 20.0, "ana", None)])  # after the last harvest
    db = str(tmp_path / ".uet" / "uet.db")
    repo = str(Path(__file__).resolve().parents[2])
    listed = subprocess.run([sys.executable, "-m", "tui.cli", "memory", "list", "--json", "--db", db],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60, check=True,
                            env={**os.environ, "PYTHONPATH": repo}).stdout
    [lesson] = json.loads(listed)
    assert (lesson["outcome"], lesson["fix"]) == ("fixed", "+retry GET only\n")

"""The fixed stores behind the dashboard snapshots tell one consistent story: a snapshot of a
contradiction (a patch whose counts are not its diff's, events out of time order, a step whose
attempts disagree with it) would be accepted by ``--snapshot-update`` as readily as a right one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from engine.patches.safety import inspect_patch
from tests.tui import stores

TERMINAL = ("succeeded", "failed", "skipped", "canceled")


def rows(db: Path, sql: str) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql).fetchall()


def test_events_are_in_time_order(tmp_path: Path) -> None:
    db = stores.small(tmp_path / "uet.db")
    times = [row["ts"] for row in rows(db, "SELECT ts FROM events ORDER BY seq")]
    assert times == sorted(times) and len(times) > 10


def test_run_counts_are_their_steps_and_steps_are_their_attempts(tmp_path: Path) -> None:
    db = stores.small(tmp_path / "uet.db")
    for run in rows(db, "SELECT * FROM runs"):
        steps = rows(db, f"SELECT * FROM steps WHERE run_id = '{run['id']}'")
        assert run["total_steps"] == len(steps), run["id"]
        assert run["done_steps"] == sum(1 for s in steps if s["state"] in TERMINAL), run["id"]
        assert run["failed_steps"] == sum(1 for s in steps if s["state"] == "failed"), run["id"]
        for step in steps:
            where = f"{run['id']}/{step['id']}"
            attempts = rows(db, f"SELECT * FROM attempts WHERE run_id = '{run['id']}' AND step_id = '{step['id']}' "
                                "ORDER BY number")
            assert [a["number"] for a in attempts] == list(range(1, step["attempts"] + 1)), where
            if not attempts:
                assert step["started_at"] is None and step["exit_code"] is None, where
                continue
            assert attempts[0]["started_at"] == step["started_at"] >= run["started_at"], where
            for earlier, later in zip(attempts, attempts[1:], strict=False):
                assert earlier["state"] == "failed" and earlier["ended_at"] <= later["started_at"], where
            last = attempts[-1]
            assert last["exit_code"] == step["exit_code"], where
            assert step["ended_at"] == (last["ended_at"] if step["state"] in TERMINAL else None), where
            if step["state"] in ("succeeded", "failed"):
                assert last["state"] == step["state"], where
            if run["ended_at"] is not None and step["ended_at"] is not None:
                assert step["ended_at"] <= run["ended_at"], where


def test_breaker_windows_agree_with_their_failure_counts(tmp_path: Path) -> None:
    db = stores.small(tmp_path / "uet.db")
    for breaker in rows(db, "SELECT * FROM breakers"):
        window = json.loads(breaker["window"])
        trailing = len(window) - len("".join(map(str, window)).rstrip("1"))
        assert breaker["consecutive_failures"] == trailing, breaker["tool"]


def test_patches_say_what_their_diffs_hold(tmp_path: Path) -> None:
    db = stores.patches(tmp_path / "uet.db")
    patches = rows(db, "SELECT * FROM patches")
    assert len(patches) == len(stores.PATCHES)
    for patch in patches:
        files = inspect_patch(patch["diff"])
        stored = json.loads(patch["files"])
        assert [(f["path"], f["added"], f["removed"]) for f in stored] == \
            [(f.path, f.added, f.removed) for f in files], patch["id"]
        assert (patch["added"], patch["removed"]) == (sum(f.added for f in files), sum(f.removed for f in files))
        [run] = rows(db, f"SELECT * FROM runs WHERE id = '{patch['run_id']}'")
        [step] = rows(db, f"SELECT * FROM steps WHERE run_id = '{patch['run_id']}' AND id = '{patch['step_id']}'")
        assert run["created_at"] <= step["started_at"] <= patch["created_at"] <= patch["updated_at"], patch["id"]
        for gate in rows(db, f"SELECT * FROM gate_results WHERE patch_id = '{patch['id']}'"):
            assert patch["created_at"] <= gate["ts"] <= patch["updated_at"], patch["id"]


def test_the_reviewed_patch_is_the_two_file_one() -> None:
    """The review snapshots open the first patch: two files, three hunks, +4 -3."""
    files = inspect_patch(stores.PATCH_DIFF)
    assert [(f.path, f.added, f.removed) for f in files] == [("src/calc.py", 3, 2), ("README.md", 1, 1)]

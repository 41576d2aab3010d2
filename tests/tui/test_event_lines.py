"""Events the store's writer and the adapter boundary add, in words (``uet logs``, plain lines)."""

from __future__ import annotations

from tui.format import describe


def test_what_could_not_be_recorded_is_said_in_words() -> None:
    assert describe("attempt.warning", "a", {"attempt": 2, "reason": "tokens_in '1e300': not a finite number"}) == (
        "step a attempt 2 warning: tokens_in '1e300': not a finite number")
    assert describe("store.values_dropped", "a", {"values": [
        {"table": "attempts", "column": "exit_code", "value": "100000000000000000000000"}]}) == (
        "step a recorded with NULL for what the database cannot hold: attempts.exit_code '100000000000000000000000'")
    assert describe("store.unit_dropped", None, {"error": "IntegrityError: NOT NULL constraint failed: events.kind"}) \
        == "a change could not be recorded (IntegrityError: NOT NULL constraint failed: events.kind); the rest goes on"


def test_what_a_lost_engine_left_running_and_was_ended_is_said_in_words() -> None:
    assert describe("run.orphans_ended", None, {"pids": [41, 42], "count": 2, "attempts": ["r1:build:3"]}) == (
        "ended 2 process(es) a lost engine left running (attempts r1:build:3)")
    assert describe("run.orphans_ended", None, {"pids": [41], "count": 1, "attempts": []}) == (
        "ended 1 process(es) a lost engine left running")


def test_every_event_the_engine_records_reads_as_words() -> None:
    """An event kind the engine writes and ``describe`` does not know would print as a raw
    dict in `uet run --plain`, `uet logs` and the dashboard."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    made = re.compile(r'(?:Event\([^,()]+(?:\([^()]*\))?, |_event\(|\.event\()"([a-z_]+\.[a-z_]+)"')
    kinds = {kind for folder in ("engine", "store") for path in (root / folder).rglob("*.py")
             for kind in made.findall(path.read_text(encoding="utf-8"))}
    assert {"step.state", "patch.state", "review.round"} <= kinds  # the pattern finds them
    raw = sorted(kind for kind in kinds if describe(kind, "s", {}).startswith(kind))
    assert raw == []


def test_a_revision_round_reads_as_words() -> None:
    assert describe("review.round", "edit", {"patch": "c48b5f6a42", "round": 2, "comments": 1, "by": "ana"}) == (
        "step edit revision round 2 of patch c48b5f6a42: 1 review comment(s) from ana")
    assert "again (its engine was lost)" in describe("review.round", "edit", {"round": 3, "again": True})
